"""transforms.history.without_comments: a replay runs each step's SQL without its COMMENT ON
statements, and nothing else of it goes missing."""

from __future__ import annotations

import re

import duckdb
import pytest

from transforms.build import sql_for
from transforms.history import REPORTED, without_comments


def _statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """Each statement's text without the comment lines before it."""
    return [re.sub(r"(?m)^\s*--[^\n]*\n", "", s.query).strip() for s in con.extract_statements(sql)]


@pytest.mark.parametrize("step", REPORTED, ids=lambda s: s.name)
def test_every_other_statement_of_a_replayed_step_is_kept(step):
    con = duckdb.connect()
    sql = sql_for(step.schema, step.table)
    kept = _statements(con, without_comments(sql))
    assert "COMMENT ON" in sql
    assert not [s for s in kept if s.startswith("COMMENT ON")]
    assert kept == [s for s in _statements(con, sql) if not s.startswith("COMMENT ON")]


def test_comment_text_with_quotes_semicolons_and_lines_goes_whole():
    sql = ("CREATE OR REPLACE TABLE t AS SELECT 1 AS a;\n"
           "COMMENT ON TABLE t IS 'It''s; not\n  the end;';\n"
           "COMMENT ON COLUMN t.a IS 'One.';\n"
           "SELECT 'COMMENT ON TABLE t IS ''x'';' AS s;\n")
    con = duckdb.connect()
    kept = without_comments(sql)
    assert _statements(con, kept) == ["CREATE OR REPLACE TABLE t AS SELECT 1 AS a;",
                                      "SELECT 'COMMENT ON TABLE t IS ''x'';' AS s;"]
    con.execute(kept)


def test_a_replay_builds_what_the_health_reads_and_nothing_else():
    """REPLAYED is marts.health with every replayed table it reads, directly or through another:
    a mart nothing of the health reads (NOT_REPLAYED) costs each replayed day a statement."""
    from transforms.build import STEPS
    from transforms.history import NOT_REPLAYED, REPLAYED

    candidates = {s.name for s in REPLAYED} | NOT_REPLAYED

    def code(step) -> str:  # the SQL without its COMMENT ON statements and -- comments
        return re.sub(r"--[^\n]*", "", without_comments(sql_for(step.schema, step.table)))

    reads = {s.name: set(re.findall(r"\b((?:core|marts)\.\w+)", code(s))) & candidates - {s.name}
             for s in STEPS if s.name in candidates}
    needed, todo = set(), ["marts.health"]
    while todo:
        if (name := todo.pop()) not in needed:
            needed.add(name)
            todo.extend(reads[name])
    assert {s.name for s in REPLAYED} == needed
    assert NOT_REPLAYED and not NOT_REPLAYED & needed


def test_a_past_days_report_reads_only_what_a_replay_builds():
    """`pulse report --as-of` reads the report's marts in the replay catalog (pipelines/report/data.py,
    REPORTED): a mart it reads that is not rebuilt there would fail there, or NOT_REPLAYED would
    have dropped one it needs. marts.health_history is the catalog's view of the recorded days."""
    from pathlib import Path

    from transforms.history import REPORTED

    data = Path(__file__).resolve().parents[2] / "pipelines" / "report" / "data.py"
    code = re.sub(r"#[^\n]*", "", data.read_text())
    read = set(re.findall(r"\bmarts\.\w+", code))
    assert read and read <= {s.name for s in REPORTED} | {"marts.health_history"}
