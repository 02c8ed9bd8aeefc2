"""The embedded sandbox's stable port lies below the ephemeral ports outgoing connections take."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.defs.resources import STABLE_PORTS, _serve_on_a_stable_port


def test_the_stable_port_is_below_the_ephemeral_range(tmp_path):
    asked = []

    @contextmanager
    def serve(scenario, port=0):
        asked.append(port)
        yield port

    ports = set()
    for n in range(200):
        with _serve_on_a_stable_port(serve, None, tmp_path / f"w{n}") as port:
            ports.add(port)
    assert ports == set(asked) and len(ports) > 150
    assert all(STABLE_PORTS[0] <= p < STABLE_PORTS[1] for p in ports)
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else None
    if low is not None and low < STABLE_PORTS[1]:
        pytest.skip(f"this machine's ephemeral ports start at {low}, inside the stable ports")
    assert low is None or STABLE_PORTS[1] <= low
