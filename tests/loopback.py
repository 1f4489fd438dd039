"""Loopback plumbing shared by the tests that start real servers: free ports and "wait until it answers".

One implementation for every test that runs MLflow, MLServer, moto, the k3s
double or a container on 127.0.0.1.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    """A loopback TCP port that is free right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(size: int = 3) -> int:
    """A loopback port p with p..p+size-1 free right now (MLServer's REST, gRPC, metrics)."""
    for _ in range(50):
        base = free_port()
        if base + size > 65535:
            continue
        sockets = []
        try:
            for offset in range(size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no block of {size} free loopback ports found in 50 tries")


def wait_until_ok(
    url: str,
    timeout: float,
    gone: Callable[[], str | None] = lambda: None,
    interval: float = 0.5,
) -> None:
    """Poll GET ``url`` until it answers 200.

    ``gone()`` is asked after every failed try; a message means the server
    died (its log tail, say) and is raised at once instead of waiting out the
    timeout. Raises ``TimeoutError`` naming the URL when it never answers.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        message = gone()
        if message:
            raise RuntimeError(message)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(interval)
