"""A sync's progress as typed events, for whoever wants to show it (the ``pulse`` command line's
progress bars), without the sync knowing who listens or how it is shown.

``pipelines.ingest`` emits an event where a project starts, where a page of its items has
landed and where the project ends; the transform step one where each table is built. Listeners run in the thread that emits (a site's projects may
sync in parallel threads), must be quick, and can never fail a sync: an exception in a listener
is logged and dropped. With no listener registered (Dagster's own runs, the tests) an event
costs one empty loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectStarted:
    """A project (Jira) or repository (GitHub) of a site began to sync."""

    site: str
    project: str


@dataclass(frozen=True)
class ItemsLanded:
    """A page of a project's items was committed to ``raw.*``."""

    site: str
    project: str
    items: int


@dataclass(frozen=True)
class ProjectSynced:
    """A project ended: the items it wrote and the requests it made (as ``meta.source_syncs``
    records them), and its error when it failed."""

    site: str
    project: str
    items: int
    requests: int
    error: str | None = None


@dataclass(frozen=True)
class TableBuilt:
    """The transform step brought one derived table up to date: ``done`` of its ``total``."""

    table: str
    how: str  # rebuilt, merged, ran or skipped (transforms.build.Built.how)
    done: int
    total: int


Event = ProjectStarted | ItemsLanded | ProjectSynced | TableBuilt
Listener = Callable[[Event], None]

_listeners: list[Listener] = []
_guard = threading.Lock()


def emit(event: Event) -> None:
    """Tell every registered listener; a listener's failure never reaches the sync."""
    for listener in tuple(_listeners):
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - showing progress must never cost the sync
            log.debug("progress listener %r failed on %r", listener, event, exc_info=True)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Register ``listener`` for the block."""
    with _guard:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _guard:
            _listeners.remove(listener)
