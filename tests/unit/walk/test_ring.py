"""The ring gives back exactly what was put, across wrap-arounds, and waits when it is full."""

from __future__ import annotations

import os
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.walk.ring import Ring

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd is Linux's")


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=1024), min_size=1, max_size=60))
def test_what_is_put_is_taken_back_intact(sizes: list[int]) -> None:
    ring = Ring.create(1024)
    assert ring is not None
    fds = ring.for_worker()
    worker = Ring.attach([os.dup(fds[0]), os.dup(fds[1])])
    pending: list[tuple[tuple[int, int], bytes]] = []  # put, not yet copied out

    def copy_out() -> bool:
        # the worker's side: everything put so far is read back, then its space is released
        for place, data in pending:
            assert worker.take(place) == data
        pending.clear()
        worker.release(ring.written)
        return True

    try:
        for i, n in enumerate(sizes):
            data = bytes([i % 251]) * n
            place = ring.put(data, copy_out)
            assert place is not None
            start, length = place
            assert length == n
            assert start + n <= 1024  # a file never wraps
            for (other, other_len), _ in pending:  # nothing waiting was written over
                assert start + n <= other or other + other_len <= start
            pending.append((place, data))
        copy_out()
    finally:
        worker.close()
        ring.close()


def test_a_full_ring_stops_when_told_to() -> None:
    ring = Ring.create(100)
    assert ring is not None
    try:
        assert ring.put(b"a" * 80, lambda: False) == (0, 80)
        assert ring.put(b"b" * 30, lambda: False) is None  # nothing was copied out
        ring.release(ring.written)
        assert ring.put(b"b" * 30, lambda: False) == (0, 30)  # the tail is skipped, not split
    finally:
        ring.close()


def test_a_full_ring_wakes_when_the_worker_gives_space_back() -> None:
    ring = Ring.create(100)
    assert ring is not None
    fds = ring.for_worker()
    worker = Ring.attach([os.dup(fds[0]), os.dup(fds[1])])
    ring.sent()
    try:
        assert ring.put(b"a" * 90, lambda: False) is not None
        timer = threading.Timer(0.2, worker.release, args=(ring.written,))
        timer.start()
        started = time.monotonic()

        def wait() -> bool:
            ring.wait_for_space(30.0)  # woken by the release, long before the timeout
            return True

        assert ring.put(b"b" * 50, wait) == (0, 50)
        assert time.monotonic() - started < 10.0
        timer.join()
    finally:
        worker.close()
        ring.close()
