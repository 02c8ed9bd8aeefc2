"""pipelines.ingest._join_events: a repository's events reader, joined after its issues."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from pipelines.ingest import _join_events


def reader(requests: int, error: Exception | None = None) -> tuple[SimpleNamespace, Future]:
    """The events reader after ``requests`` requests, and its future: done, or failed with ``error``."""
    done: Future = Future()
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
    return SimpleNamespace(requests=requests), done


def test_the_events_readers_requests_count_with_the_repositorys():
    source = SimpleNamespace(requests=5)
    _join_events(source, *reader(3), failed=False)
    assert source.requests == 8


def test_its_error_fails_the_repository_and_its_requests_still_count():
    source = SimpleNamespace(requests=5)
    with pytest.raises(RuntimeError, match="404"):
        _join_events(source, *reader(2, RuntimeError("HTTP 404")), failed=False)
    assert source.requests == 7


def test_when_the_issues_failed_first_theirs_is_the_error_raised():
    source = SimpleNamespace(requests=5)
    _join_events(source, *reader(1, RuntimeError("second")), failed=True)  # not raised: the caller's is
    assert source.requests == 6
