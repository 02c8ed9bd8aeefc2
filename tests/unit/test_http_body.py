"""The transport reads a JSON answer's body in large reads (connectors.http.read_body): the same
bytes as requests' own ``content``, in a few passes through urllib3 instead of one per 10 KB."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator

import orjson
import pytest
import requests
from urllib3.response import HTTPResponse

from connectors.http import BODY_READ_SIZE, CheckedJsonAdapter

PAGE = [{"id": n, "key": f"PAY-{n}", "body": "ä" * 500 + str(n)} for n in range(2500)]  # about 2.5 MB
BODY = orjson.dumps(PAGE)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/page"
    httpd.shutdown()


def session() -> requests.Session:
    s = requests.Session()
    s.mount("http://", CheckedJsonAdapter("site", logger=logging.getLogger("test"), backoff=0.01))
    return s


def test_a_large_body_is_read_whole_in_a_few_reads(server, monkeypatch):
    reads: list[int | None] = []
    read = HTTPResponse.read

    def counted(self, amt=None, *args, **kwargs):
        reads.append(amt)
        return read(self, amt, *args, **kwargs)

    monkeypatch.setattr(HTTPResponse, "read", counted)
    response = session().get(server)
    assert response.content == BODY
    assert response.json() == PAGE
    assert response.text == BODY.decode()
    # 2.5 MB at 1 MB a read, plus the read that finds the end; requests' own 10 KB reads: about 250
    assert len(BODY) > 2 * BODY_READ_SIZE
    assert 3 <= len(reads) <= 5, len(reads)
    assert set(reads) == {BODY_READ_SIZE}


def test_the_body_is_the_one_requests_reads(server):
    """Without the adapter (requests' own reads), the same bytes and the same parse."""
    plain = requests.get(server)
    checked = session().get(server)
    assert checked.content == plain.content == BODY
    assert checked.json() == plain.json()
