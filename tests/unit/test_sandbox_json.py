"""sandbox.httpd.json_bytes: orjson's speed, the standard library's bytes for what the sandbox serves."""

from __future__ import annotations

import json

from sandbox.httpd import json_bytes


def stdlib(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def test_the_bodies_are_the_bytes_the_standard_library_wrote():
    # what the sandbox's answers hold: ids beyond 32 bits, story points, non-ASCII names, escapes,
    # line separators in descriptions, nulls and nesting
    body = {"id": "10042", "number": 2**40, "points": [0.5, 3.0, 13.0, 0.30000000000000004, 1e16],
            "summary": "Zahlungsanbieter wechseln \u2014 caf\u00e9 \U0001F680", "body": 'line\u2028"quoted"\\\n\t\x01',
            "fields": {"assignee": None, "flagged": [True, False], "labels": []}}
    assert json_bytes(body) == stdlib(body)
    assert json.loads(json_bytes(body)) == body


def test_what_orjson_refuses_goes_the_standard_librarys_way():
    for body in ({"big": 2**64}, {1: "a key that is not a string"}):
        assert json_bytes(body) == stdlib(body)
