"""Cross-process locks on the warehouse, so two writers never meet DuckDB's own lock.

DuckDB refuses a second process outright ("Could not set lock on file") instead of waiting, so
two syncs, or a sync and a Dagster step, would both fail. Two locks, both ``flock`` on files in
the work folder (released by the kernel when a process dies, so a SIGKILL leaves none held):

- the *run* lock (``sync.lock``): one sync at a time; it records who holds it (pid, start, what),
  so a second sync can wait a bounded time or say which sync is running;
- the *file* lock (``work.duckdb.lock``): every connection to the work file, exclusive for
  writers and shared for readers, so steps of concurrent Dagster runs and asset checks in other
  processes queue for the file instead of failing on it.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

POLL_SECONDS = 0.05


class LockTimeout(RuntimeError):
    """The lock stayed held by another process for longer than we were willing to wait."""

    def __init__(self, path: Path, waited: float, holder: Holder | None) -> None:
        self.path, self.waited, self.holder = path, waited, holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{who} holds {path} (waited {waited:.0f} s)")


@dataclass(frozen=True)
class Holder:
    """Who holds a run lock, as it wrote itself into the lock file."""

    pid: int
    started_at: str
    what: str

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid}, started {self.started_at})"


def read_holder(path: Path) -> Holder | None:
    """The holder a run lock file names, or None when it is empty or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(int(data["pid"]), str(data["started_at"]), str(data["what"])) if data else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


# flock belongs to an open file: a second open in the same process would wait on itself. Locks
# held by this process are counted per path, so nested holders in one process share the hold.
_held: dict[Path, tuple[int, int, int]] = {}  # path -> (fd, mode, depth)
_guard = threading.Lock()


@contextmanager
def hold(path: Path, *, shared: bool = False, timeout: float = 0.0, what: str | None = None) -> Iterator[None]:
    """Hold ``path`` locked (shared or exclusive) for the block, waiting at most ``timeout`` seconds.

    With ``what``, the holder's pid, start time and ``what`` are written into the file for anyone
    who finds it locked (``read_holder``). Raises ``LockTimeout`` naming the holder.
    """
    path = path.resolve()
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with _guard:
        if path in _held:  # this process already holds it (an exclusive hold covers a shared one)
            fd, held_mode, depth = _held[path]
            if held_mode == fcntl.LOCK_EX or mode == fcntl.LOCK_SH:
                _held[path] = (fd, held_mode, depth + 1)
                nested = True
            else:
                raise RuntimeError(f"{path}: a shared hold cannot be raised to exclusive in one process")
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                fd, held_mode, depth = _held[path]
                _held[path] = (fd, held_mode, depth - 1)
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise LockTimeout(path, waited, read_holder(path)) from None
                time.sleep(min(POLL_SECONDS * (1 + waited), 1.0, max(timeout - waited, 0.01)))
        if what is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what,
                                      "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode(), 0)
        with _guard:
            _held[path] = (fd, mode, 1)
        try:
            yield
        finally:
            with _guard:
                _held.pop(path, None)
            if what is not None:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
