"""The sandbox's HTTP/1.1 server: threaded, keep-alive, just enough of HTTP for API clients.

Why not werkzeug's development server: it answers every request with ``Connection: close`` and
then waits for the client to hang up, which caps it at several hundred requests per second and
makes every client request pay a new TCP connection. Why not a WSGI server from PyPI: none lets an
application close a connection without answering, which the ``drop`` fault needs. This one keeps
connections alive, parses only what WSGI needs, and sends each answer (the sandbox's answers are
in memory anyway) with one ``sendall``; an application that raises ``DropConnection`` gets its
connection closed with nothing sent.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import orjson

LOG = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may sit unused
MAX_LINE = 65536
MAX_HEADERS = 100
NO_BODY_STATUSES = (204, 304)


def json_bytes(body: object) -> bytes:
    """``body`` as compact UTF-8 JSON through orjson: the bytes ``json.dumps(body,
    ensure_ascii=False, separators=(",", ":"))`` gives, on every one of the 8,871 bodies a full
    sync of the demo and of the 10k portfolio reads (only a float below 1e-4 would be spelled
    differently, 1.5e-7 for 1.5e-07: the sandbox serves none). The standard library's encoder
    took 2.0 of the sandbox's 3.5 CPU seconds serving a full sync of the 10k portfolio's peer
    projects, on the two cores its client needs too. What orjson refuses (an integer beyond 64
    bits, a key that is not a string) goes the standard library's way."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class DropConnection(Exception):
    """Raised by the application: close the connection without sending any answer."""


class _BadRequest(Exception):
    """A request this server cannot read: answer 400 and close."""


class WsgiServer(socketserver.ThreadingTCPServer):
    """One thread per connection; ``close()`` also ends the connections clients keep alive."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        super().__init__((host, port), _Connection)
        self.app = app
        self.port: int = self.server_address[1]
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def close(self) -> None:
        """Stop accepting, then wake every connection thread with a shutdown of its socket."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Connection(socketserver.StreamRequestHandler):
    """Serves the requests of one connection, in order, until either side closes it."""

    server: WsgiServer
    timeout = IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def handle(self) -> None:
        try:
            while self._serve_one():
                pass
        except (OSError, DropConnection):  # the client left, timed out, or the app dropped it
            pass

    def _serve_one(self) -> bool:
        """Read one request, answer it; True when the connection stays open for another."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # stray line breaks between requests are allowed
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        try:
            environ = self._environ(line)
        except _BadRequest as error:
            self._send("400 Bad Request", [("Content-Type", "text/plain")], [str(error).encode()], False)
            return False
        keep_alive = _keeps_alive(environ)
        status, headers, body = self._run(environ)
        if environ["REQUEST_METHOD"] == "HEAD":
            body = []
        self._send(status, headers, body, keep_alive)
        return keep_alive

    def _environ(self, line: bytes) -> dict[str, Any]:
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise _BadRequest("malformed request line") from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(f"unsupported protocol {version}")
        if target.startswith(("http://", "https://")):  # absolute form, as sent to a proxy
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
            "SERVER_NAME": host, "SERVER_PORT": str(port), "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0], "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE + 1).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, colon, value = header.partition(":")
            if not colon:
                raise _BadRequest("malformed header line")
            key = name.strip().upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            value = value.strip()
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        else:
            raise _BadRequest("too many headers")
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ["wsgi.input"] = io.BytesIO(self._body(environ))
        return environ

    def _body(self, environ: dict[str, Any]) -> bytes:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            chunks = []
            while size := self._chunk_size():
                chunks.append(self.rfile.read(size))
                self.rfile.readline(MAX_LINE + 1)
            while self.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            body = b"".join(chunks)
            environ["CONTENT_LENGTH"] = str(len(body))
            return body
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise _BadRequest("malformed Content-Length") from None
        return self.rfile.read(length) if length > 0 else b""

    def _chunk_size(self) -> int:
        try:
            return int(self.rfile.readline(MAX_LINE + 1).split(b";")[0], 16)
        except ValueError:
            raise _BadRequest("malformed chunk size") from None

    def _run(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Call the application; an exception other than DropConnection is a 500."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            started[:] = [status, headers]
            return written.append

        try:
            result = self.server.app(environ, start_response)
            try:
                written.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except DropConnection:
            raise
        except Exception:
            LOG.exception("the sandbox failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            return "500 Internal Server Error", [("Content-Type", "text/plain")], [b"sandbox error"]
        return started[0], started[1], written

    def _send(self, status: str, headers: list[tuple[str, str]], body: list[bytes], keep_alive: bool) -> None:
        payload = b"".join(body)
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Date: {formatdate(usegmt=True)}"]
        names = {k.lower() for k, _ in headers}
        if "content-length" not in names and int(status[:3]) not in NO_BODY_STATUSES:
            lines.append(f"Content-Length: {len(payload)}")
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.connection.sendall(head + payload)


def _keeps_alive(environ: dict[str, Any]) -> bool:
    """HTTP/1.1 keeps the connection unless the client says close; HTTP/1.0 clients get one answer."""
    tokens = {t.strip().lower() for t in environ.get("HTTP_CONNECTION", "").split(",")}
    return environ["SERVER_PROTOCOL"] != "HTTP/1.0" and "close" not in tokens
