"""Waiting in async tests: for a condition (a bound on how long, never a measure of speed) and for a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest


async def wait_until(predicate: Callable[[], bool], what: str, within: float = 5.0) -> None:
    """Poll until `predicate()` holds; fail the test naming `what` if it has not within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while not predicate():
                await asyncio.sleep(0.005)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
