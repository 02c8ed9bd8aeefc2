"""Fixtures serving the demo world (demo_world.py) to the e2e sync tests; a module that defines
its own ``running`` or ``sandbox`` keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_world import AS_OF, fresh
from sandbox.scenario import build
from sandbox.server import RunningSandbox, serve


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with serve(build("demo", 7, AS_OF)) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running) -> Iterator[RunningSandbox]:
    """The shared sandbox with no faults and zeroed counts before each test."""
    fresh(running)
    yield running
    running.app.faults.set(())


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory) -> Path:
    """One `pulse demo` (seed 7, as of demo_world.AS_OF) for the tests that only read what it
    published: the report, the BI feed, the export. Treat it as read-only."""
    from pipelines.cli import main

    out = tmp_path_factory.mktemp("published-demo")
    assert main(["demo", "--out", str(out), "--seed", "7", "--as-of", AS_OF.isoformat()]) == 0
    return out
