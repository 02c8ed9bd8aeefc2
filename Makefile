# Program Pulse: every target creates the virtualenv it needs, so a fresh clone needs only
# Python >= 3.11 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-slow unit e2e sandbox dev check-defs docs bench bench-rebuild bench-sync-memory bench-backtest bench-report bench-scale-out bench-side-by-side clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Program Pulse needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pulse demo --out demo-output

# Both cores: one test file per worker at a time (--dist loadfile keeps a file's module fixtures,
# such as its sandbox, in one process). TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The slow tests (tests marked slow: 10 concurrent Dagster runs through the multiprocess executor).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

sandbox: $(STAMP)
	$(BIN)/pulse sandbox --port 8080 --scenario demo

# `dg dev`: the webserver on PORT (`make dev PORT=3100`) and the daemon (schedules, sensors, the run
# queue, run retries) on pipelines.definitions, the module and name dg's project settings give
# (pyproject.toml [tool.dg.project]). Dagster reads its instance settings (dagster.yaml: the duckdb
# pool, the run queue, run retries) from DAGSTER_HOME, .dagster_home; it runs from there because
# it warns about any dagster.yaml in its working folder that is not DAGSTER_HOME's. dg expects the
# project's .venv to be the active one (it warns otherwise): VIRTUAL_ENV and PATH are what
# activating it sets. A relative PULSE_CONFIG is read from here.
PORT ?= 3000
PULSE_CONFIG ?= demo-output/program.yaml
ACTIVE_VENV := VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(BIN):$$PATH
dev: $(STAMP)
	mkdir -p .dagster_home && cp dagster.yaml .dagster_home/dagster.yaml
	cd .dagster_home && DAGSTER_HOME=$(CURDIR)/.dagster_home PULSE_CONFIG=$(abspath $(PULSE_CONFIG)) $(ACTIVE_VENV) \
		$(CURDIR)/$(BIN)/dg dev -m pipelines.definitions -d $(CURDIR) --port $(PORT)

# docs/warehouse.md is rendered from the warehouse's COMMENT ONs (a test checks it is current).
docs: demo
	$(BIN)/python -m warehouse.docs demo-output/pulse.duckdb > docs/warehouse.md

check-defs: $(STAMP)
	$(ACTIVE_VENV) $(BIN)/dg check defs

# Program Pulse against Perceval (PyPI) on the portfolio scenario with 50 ms per request; writes
# bench-output/bench.md and .json. BENCH_SIZES=10000 runs one size (default 10000,100000).
# Then the sandbox's own throughput for cached pages (bench-output/throughput.md), then the
# transforms' rebuild and nights beside the DuckDB floor (bench-rebuild), then a whole `pulse sync`'s
# peak RSS (bench-sync-memory), then how often the forecasts came true (bench-backtest), then the
# status report's wall time on the demo (bench-report; bench-rebuild times it at 100k items), then
# a full sync by N landing processes against one (bench-scale-out).
BENCH_SIZES ?= 10000,100000
bench: $(STAMP)
	BENCH_SIZES=$(BENCH_SIZES) $(BIN)/python -m bench.run
	$(BIN)/python -m bench.throughput
	BENCH_REBUILD_SIZES=$(BENCH_REBUILD_SIZES) $(BIN)/python -m bench.rebuild
	$(BIN)/python -m bench.sync_memory
	$(BIN)/python -m bench.backtest
	$(BIN)/python -m bench.report
	BENCH_SCALE_OUT_ITEMS=$(BENCH_SCALE_OUT_ITEMS) BENCH_SCALE_OUT_PROCESSES=$(BENCH_SCALE_OUT_PROCESSES) \
		$(BIN)/python -m bench.scale_out

# A full sync of the portfolio by N landing processes (plan, N shards at once, one merge) against
# the one-process ingest, same sandbox, same raw tables; writes bench-output/scale_out.md and .json.
BENCH_SCALE_OUT_ITEMS ?= 100000
BENCH_SCALE_OUT_PROCESSES ?= 2,4
bench-scale-out: $(STAMP)
	BENCH_SCALE_OUT_ITEMS=$(BENCH_SCALE_OUT_ITEMS) BENCH_SCALE_OUT_PROCESSES=$(BENCH_SCALE_OUT_PROCESSES) \
		$(BIN)/python -m bench.scale_out

# The peer ingest of `make bench` (10,000 items, 50 ms a request), or with BENCH_WHAT=sync the whole
# first `pulse sync` of those projects, by BENCH_BASE and by the working tree, alternating against
# one sandbox (a noisy machine's hour shared by both sides); writes bench-output/side_by_side.md
# and .json. Not a step of `make bench`: a tool for one change.
BENCH_BASE ?= HEAD~1
BENCH_RUNS ?= 4
BENCH_WHAT ?= ingest
bench-side-by-side: $(STAMP)
	BENCH_BASE=$(BENCH_BASE) BENCH_RUNS=$(BENCH_RUNS) BENCH_WHAT=$(BENCH_WHAT) $(BIN)/python -m bench.side_by_side

# The status report's wall time on the demo (`pulse report` as a process, median of 3; issue #15:
# < 3 s); writes bench-output/report.md. bench-rebuild times it at 100k items (< 20 s).
bench-report: $(STAMP)
	$(BIN)/python -m bench.report

# Peak RSS of a whole `pulse sync` (ingest, transforms, publish) on the 10,000-item portfolio:
# the first sync, then a night without changes; writes bench-output/sync_memory.md and .json.
bench-sync-memory: $(STAMP)
	$(BIN)/python -m bench.sync_memory

# How often the forecasts came true: pulse sync then pulse backtest on the demo and portfolio
# scenarios; writes bench-output/backtest.md.
bench-backtest: $(STAMP)
	$(BIN)/python -m bench.backtest

# Our rebuild of staging, core and marts from raw at N items (bench/raw_at_scale.py) beside
# ../shared/bench/duckdb_floor.py at the same N, as ratios; writes bench-output/rebuild.md and
# .json. BENCH_REBUILD_SIZES=100000,1000000 runs both sizes.
BENCH_REBUILD_SIZES ?= 100000
bench-rebuild: $(STAMP)
	BENCH_REBUILD_SIZES=$(BENCH_REBUILD_SIZES) $(BIN)/python -m bench.rebuild

clean:
	rm -rf $(VENV) demo-output .dagster_home .pytest_cache *.egg-info
