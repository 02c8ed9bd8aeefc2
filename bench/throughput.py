"""How many requests a second the sandbox serves for cached pages, so that it is never what a
benchmark measures. The sandbox runs in its own process pinned to core 0 (where `taskset` exists);
this process, pinned to core 1, keeps a few HTTP/1.1 connections alive and asks one page over and
over for a fixed time. Bounded in time and count, loopback only. Writes bench-output/throughput.md.

    python -m bench.throughput
"""

from __future__ import annotations

import http.client
import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.run import OUT, Sandbox
from sandbox.credentials import SANDBOX_TOKEN

SECONDS = 2.0  # per page; GitHub's sandbox rate limit (5,000 an hour) must not be reached
CONNECTIONS = 4
MAX_REQUESTS = 4500
PAGES = (  # (label, path)
    ("Jira DC serverInfo", "/jira-dc/rest/api/2/serverInfo"),
    ("Jira DC search, 100 issues with changelogs", "/jira-dc/rest/api/2/search?jql=project%20%3D%20CART"
                                                   "&maxResults=100&expand=changelog&fields=*all"),
    ("Jira Cloud search/jql, 100 issues", "/jira-cloud/rest/api/3/search/jql?jql=project%20%3D%20PAY"
                                          "&maxResults=100&fields=*all"),
    ("GitHub issues, 100 a page", "/github/repos/acme/web/issues?state=all&per_page=100"),
)


def hammer(base: str, path: str) -> tuple[int, int, float]:
    """(answers 200, other answers, seconds) from CONNECTIONS keep-alive connections."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Connection": "keep-alive"}
    ok, other, lock = [0], [0], threading.Lock()
    deadline = time.perf_counter() + SECONDS

    def worker() -> None:
        con = http.client.HTTPConnection(host, port, timeout=30)
        while time.perf_counter() < deadline:
            with lock:
                if ok[0] + other[0] >= MAX_REQUESTS:
                    break
            con.request("GET", path, headers=headers)
            response = con.getresponse()
            response.read()
            with lock:
                (ok if response.status == 200 else other)[0] += 1
        con.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok[0], other[0], time.perf_counter() - start


def warm(base: str, path: str) -> None:
    """One request first, so that every measured answer comes from the sandbox's cache."""
    con = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=60)
    con.request("GET", path, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"})
    con.getresponse().read()
    con.close()


def main() -> int:
    OUT.mkdir(exist_ok=True)
    pinned = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    sandbox = Sandbox(0, OUT / "throughput-sandbox.log", scenario="demo", latency_ms=0,
                      prefix=("taskset", "-c", "0") if pinned else ())
    if pinned:
        os.sched_setaffinity(0, {1})
    rows = ["| page | answers 200 | other | seconds | requests/s |", "|---|---|---|---|---|"]
    try:
        for label, path in PAGES:
            warm(sandbox.url, path)
            ok, other, seconds = hammer(sandbox.url, path)
            rows.append(f"| {label} | {ok:,} | {other:,} | {seconds:.1f} | {ok / seconds:,.0f} |")
            print(rows[-1], flush=True)
    finally:
        sandbox.stop()
    where = "sandbox on core 0, client on core 1" if pinned else "sandbox and client unpinned"
    text = "\n".join(rows) + (f"\n\n- `python -m bench.throughput` (part of `make bench`): demo scenario, no added "
                              f"latency, {CONNECTIONS} keep-alive connections, {SECONDS:.0f} s per page; {where}.\n")
    (OUT / "throughput.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
