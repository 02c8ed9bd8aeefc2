"""A past day's reconstructed health equals the health a sync computed on that day.

The sandbox time-travels: a sync as of 2026-11-27 records that day's marts.health; three nights
later another sync lands what changed since. Replaying 2026-11-27 from the later warehouse's
history (transforms/history.py) must give every milestone, project and program the verdicts the
first sync gave, dimension by dimension. Then the history table itself: the first build
reconstructed the weeks before it, a rebuild of the same day changes nothing.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone

import pytest

from demo_world import failures, record_run, sync, sync_nights, write_program
from sandbox.scenario import build
from sandbox.server import serve
from transforms.build import build_all, reconstruct_health_history
from transforms.history import DIMENSIONS, replay_catalog, replay_health
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

FIRST = datetime(2026, 11, 27, tzinfo=timezone.utc)
VERDICTS = ", ".join(["health", *(f"{d}_health" for d in DIMENSIONS if d != "freshness")])



def test_a_reconstructed_day_is_what_the_sync_of_that_day_computed(tmp_path):
    with serve(build("demo", 7, date(2026, 11, 27))) as sandbox:
        first = tmp_path / "first.duckdb"
        with connect(first) as con:
            migrate(con)
            record_run(con, "first", FIRST)
            assert failures(sync(sandbox, con, "first")) == {}
            write_program(con)
            build_all(con, FIRST, reconstruct=True)
            on_the_day = {r[0]: r[1:] for r in con.execute(
                f"SELECT target_id, {VERDICTS} FROM marts.health_history WHERE day = DATE '2026-11-27'").fetchall()}
            kinds = con.execute("SELECT source, count(DISTINCT day) FROM marts.health_history GROUP BY 1 ORDER BY 1").fetchall()
            again = con.execute("SELECT count(*) FROM marts.health_history").fetchone()[0]
            build_all(con, FIRST, force=True)  # idempotent within a day
            assert con.execute("SELECT count(*) FROM marts.health_history").fetchone()[0] == again
            # each later build fills 12 more days between the weekly points, until all 84 are there
            assert reconstruct_health_history(con, FIRST)[0] == 12
            filled = con.execute("SELECT count(DISTINCT day) FROM marts.health_history WHERE source = 'reconstructed'"
                                 ).fetchone()[0]
        # the first sync recorded its day and reconstructed one day a week for 12 weeks before it
        assert kinds == [("reconstructed", 12), ("sync", 1)] and filled == 24
        assert len(on_the_day) >= 10
        later = tmp_path / "later.duckdb"
        shutil.copyfile(first, later)
        last = sync_nights(sandbox, later, 3)
        with connect(later) as con:
            build_all(con, last)
            con.execute("CREATE TEMP TABLE replayed AS SELECT * FROM marts.health_history LIMIT 0")
            replay_health(con, [FIRST], into="replayed")
            replayed = {r[0]: r[1:] for r in con.execute(f"SELECT target_id, {VERDICTS} FROM replayed").fetchall()}
            # replays run two at a time (each its own cursor and catalog) give what one at a time gives
            days = [FIRST - timedelta(days=7 * k) for k in range(4)]
            streamed = {}
            for streams in (1, 2):
                con.execute(f"CREATE TABLE streams_{streams} AS SELECT * FROM marts.health_history LIMIT 0")
                replay_health(con, days, into=f"streams_{streams}", streams=streams)
                streamed[streams] = con.execute(f"SELECT day, target_id, {VERDICTS}, headline, reasons::VARCHAR "
                                                f"FROM streams_{streams} ORDER BY ALL").fetchall()
            left_attached = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'replay%'"
                                        ).fetchone()[0]
            # a replay for the health alone builds marts.burnup only over the days the health reads;
            # a past day's report replays it whole: the same health either way
            whole_and_trimmed = []
            with replay_catalog(con) as rebuild:
                for health_only in (False, True):
                    rebuild(FIRST, health_only=health_only)
                    whole_and_trimmed.append((
                        con.execute(f"SELECT level, program_id, project_key, milestone_id, {VERDICTS}, headline, "
                                    "reasons::VARCHAR FROM replay.marts.health "
                                    "ORDER BY ALL").fetchall(),
                        con.execute("SELECT * FROM replay.marts.burnup ORDER BY ALL").fetchall(),
                        con.execute("SELECT getvariable('burnup_days_from')").fetchone()[0]))
    assert streamed[1] == streamed[2] and len({r[0] for r in streamed[2]}) == 4 and left_attached == 0
    (whole, whole_days, _), (trimmed, trimmed_days, days_from) = whole_and_trimmed
    assert trimmed == whole and len(whole) >= 10 and len(trimmed_days) < len(whole_days) / 2
    # the trimmed burn-up (its own SQL path: earlier days summed into one row per line) is the whole
    # one's rows from burnup_days_from on and each line's last day, to the bit
    last_day = {}
    for row in whole_days:
        last_day[row[:4]] = max(last_day.get(row[:4], row[4]), row[4])
    kept = [row for row in whole_days if row[4] >= days_from or row[4] == last_day[row[:4]]]
    assert days_from is not None and trimmed_days == kept and any(row[4] < days_from for row in kept)
    different = {t: (on_the_day[t], replayed.get(t)) for t in on_the_day if on_the_day[t] != replayed.get(t)}
    assert different == {}, [(t, [(c, a, b) for c, a, b in zip(VERDICTS.split(", "), *d) if a != b]) for t, d in different.items()]
    assert set(replayed) == set(on_the_day)
