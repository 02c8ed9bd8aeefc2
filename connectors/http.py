"""The HTTP transport both connectors share: an adapter that reads a JSON answer whole and checks
that it parses before the client library sees it.

A tracker (or a proxy in front of it) sometimes answers 200 with a body cut short or spoiled. The
``jira`` library and PyGithub would fail the request at once, with a parser traceback that names
neither the site nor the URL; a second ask usually gets a good body. So the check sits at the
transport, below both libraries and every code path of theirs: a 2xx whose Content-Type says JSON
is read whole and parsed; if that fails, the same request is sent again after a logged wait, like
a 5xx, and once the retries are used up ``CorruptResponse`` says which site and URL kept failing.
The adapter also counts the requests it puts on the wire (its own retries and urllib3's), and
sends each within the site's ``connectors.pacing.Pacer`` (its documented limits).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError, ContentDecodingError

from connectors.errors import CorruptResponse, shown
from connectors.pacing import Pacer

# application/json, application/vnd.github+json, application/problem+json; with or without charset.
JSON_TYPE = re.compile(r"\s*application/([\w.-]+\+)?json\s*(;|$)", re.IGNORECASE)
# Query parameters whose values are never shown (the trackers take credentials in headers, but a
# URL a server hands back may carry a signed token).
SECRET_PARAM = re.compile(r"(.*[-_.])?(access|api)?[-_]?(token|secret|password|passwd|key|sig|signature|auth|"
                          r"authorization|code|jwt|credentials?)", re.IGNORECASE)
NOT_JSON = "a body that is not valid JSON (truncated?)"
# How much of a body one read asks for. ``Response.content`` reads 10 KB at a time, each read a
# pass through urllib3's and http.client's Python code under the interpreter's lock: a sync's
# 245 MB of answers (the 10k portfolio's peer projects) took about 25,000 reads. At 1 MB a page
# is one to a few reads (measured: 0.8 s less client CPU and 6% less wall over that sync). That
# holds for a plain body of known length, as the sandbox sends; a chunked body is read a chunk
# at a time whatever is asked, and a gzipped one was already read in larger raw reads.
BODY_READ_SIZE = 1 << 20

# A parser of an answer's body: JSON text in, what the caller reads out; ValueError if it is not
# the JSON expected (``loads``, or a connector's own for an endpoint: CheckedJsonAdapter's decoder).
Decode = Callable[[bytes], Any]


def redact_url(url: str) -> str:
    """``url`` without user info and with the values of secret-looking query parameters hidden."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(name, "***" if SECRET_PARAM.fullmatch(name) else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class CheckedJsonAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` (``max_retries`` and pool settings as usual) that sends a request again
    when a 2xx JSON answer's body does not parse or cannot be read whole (urllib3's
    ``IncompleteRead``, surfaced by requests as ``ChunkedEncodingError``): at most ``retries``
    times, waiting ``backoff`` seconds, then twice that, four times, ... and logging each wait as a
    warning on ``logger`` with the site and the URL (never headers). Then ``CorruptResponse``.

    Every method is retried: the connectors only read, and their POSTs (Jira Cloud's search/jql
    and changelog/bulkfetch) are reads too. Streamed answers are passed on unread.
    ``on_sent(n)`` is told of every ``n`` requests sent: one a send, plus the retries urllib3
    made inside it (5xx, rate limits), as its ``Retry`` history records them. ``decoder(request)``
    may name the parser of a request's answer (None: ``loads``), for an endpoint whose answers a
    connector reads only in part: the check is then that parse, and its result what the client
    library gets."""

    def __init__(self, site: str, *, logger: logging.Logger, backoff: float, retries: int = 3,
                 on_sent: Callable[[int], None] | None = None, pacer: Pacer | None = None,
                 decoder: Callable[[PreparedRequest], Decode | None] | None = None, **kwargs: Any) -> None:
        self.site = site
        self.decoder = decoder
        self.pacer = pacer
        self.logger = logger
        self.backoff = backoff
        self.corrupt_retries = retries
        self.on_sent = on_sent
        super().__init__(**kwargs)

    def send(self, request: PreparedRequest, stream: bool = False, **kwargs: Any) -> Response:  # type: ignore[override]
        attempt = 1
        while True:
            response = self._send(request, stream, **kwargs)
            reason = None if stream else corruption(request, response, self._decode(request))
            if reason is None:
                return response
            url = redact_url(request.url or "")
            if attempt > self.corrupt_retries:
                raise CorruptResponse(self.site, request.method or "?", url, response.status_code, attempt, reason)
            wait = self.backoff * 2 ** (attempt - 1)
            self.logger.warning("%s: %s %s answered %s with %s; retrying in %ss (retry %d of %d)",
                                self.site, request.method, shown(url), response.status_code, reason,
                                round(wait, 3), attempt, self.corrupt_retries)
            time.sleep(wait)
            attempt += 1

    def _decode(self, request: PreparedRequest) -> Decode:
        """How this request's answer is parsed: the connector's own decoder for it, else ``loads``."""
        return (self.decoder(request) if self.decoder is not None else None) or loads

    def _send(self, request: PreparedRequest, stream: bool, **kwargs: Any) -> Response:
        sent = 1
        try:
            with self.pacer.request(request.method or "GET") if self.pacer else nullcontext():
                response = super().send(request, stream=stream, **kwargs)
            sent += len(getattr(getattr(response.raw, "retries", None), "history", None) or ())
            if self.pacer:
                self.pacer.spend(sent - 1)
                self.pacer.observe(response.status_code, response.headers)
            return response
        finally:
            if self.on_sent is not None:
                self.on_sent(sent)


def corruption(request: PreparedRequest, response: Response, decode: Decode | None = None) -> str | None:
    """What is wrong with the body of a 2xx JSON answer (None: nothing, or not such an answer).
    Reading it here is what requests does next anyway; the body stays cached on the response.
    ``decode`` parses it (default ``loads``); a ValueError from it means the body is not JSON."""
    if (not 200 <= response.status_code < 300 or response.status_code in (204, 205) or request.method == "HEAD"
            or not JSON_TYPE.match(response.headers.get("Content-Type", ""))):
        return None
    try:
        body = read_body(response)
    except (ChunkedEncodingError, ContentDecodingError) as error:
        response.close()
        return f"a body that could not be read whole ({type(error).__name__})"
    try:
        parsed = (decode or loads)(body)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError; an empty body too
        return NOT_JSON
    # The parse is kept: the jira library reads the answer through response.json() and PyGithub
    # through its own parser (connectors.github_source), which would parse the same megabytes again.
    response.json = lambda *args, **kwargs: parsed  # type: ignore[method-assign]
    response.parsed_json = parsed  # type: ignore[attr-defined]
    return None


def read_body(response: Response) -> bytes:
    """``response.content``, read ``BODY_READ_SIZE`` at a time rather than requests' 10 KB: the
    same bytes and the same errors (``iter_content`` raises what ``content`` raises), cached on
    the response for the client library as ``content`` caches them."""
    if response._content is False and not response._content_consumed and response.raw is not None:
        response._content = b"".join(response.iter_content(BODY_READ_SIZE)) or b""
    return response.content


def loads(body: bytes | str) -> Any:
    """JSON text as Python values: orjson (a third of the standard library's time on a page of
    issues), and the standard library for what orjson refuses and JSON allows (an escaped lone
    surrogate, NaN)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)
