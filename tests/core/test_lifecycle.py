"""Deterministic release: replaced values are freed at once, not when Go's GC runs."""

from __future__ import annotations

import gc
import resource
import weakref

import pytest

from theus import State


class Payload:
    """A user object stored by reference, so a weakref tells when theus lets go of it."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_replaced_value_is_released_inside_the_commit():
    obj = Payload(0)
    first = weakref.ref(obj)
    s = State({"domain": {"p": obj}})
    del obj
    assert first() is not None  # the state holds it
    s.compare_and_swap(0, {"domain.p": Payload(1)})
    assert first() is None  # no gc.collect(): released by the commit itself


def test_snapshot_delays_release_until_it_is_released():
    obj = Payload(0)
    ref = weakref.ref(obj)
    s = State({"domain": {"p": obj}})
    del obj
    snap = s.snapshot()
    s.compare_and_swap(0, {"domain.p": 1})
    assert ref() is not None
    snap.release()
    assert ref() is None


def test_value_only_in_an_unpinned_middle_version_is_released_despite_an_old_snapshot():
    s = State({"domain": {"p": 0}})
    old = s.snapshot()  # pins version 0 only
    mid = Payload(1)
    ref = weakref.ref(mid)
    s.compare_and_swap(0, {"domain.p": mid})
    del mid
    s.compare_and_swap(1, {"domain.p": 2})
    assert ref() is None
    old.release()


def test_close_releases_everything():
    obj = Payload(0)
    ref = weakref.ref(obj)
    s = State({"domain": {"p": obj}})
    del obj
    s.close()
    assert ref() is None


def test_dropping_the_state_releases_everything():
    obj = Payload(0)
    ref = weakref.ref(obj)
    s = State({"domain": {"p": obj}})
    del obj, s
    gc.collect()
    assert ref() is None


def _released_by_replacing_a_branch(read_it: bool) -> int:
    """How many values and memos one snapshot's release frees after domain.a was replaced
    (with or without reading domain.a first, which builds and caches the branch's dict)."""
    s = State({"domain": {"a": {"x": 1, "y": {"z": 2}}}})
    snap = s.snapshot()
    if read_it:
        view = snap.domain.a  # builds the memos of domain and domain.a, cached on the nodes
        assert view["y"]["z"] == 2
    s.compare_and_swap(0, {"domain.a": {"x": 3}})
    held = s.stats()
    assert held["pending_release"] > 0  # the snapshot still pins what the commit replaced
    before = held["released"]
    snap.release()
    after = s.stats()
    assert after["pending_release"] == 0 and after["live_snapshots"] == 0
    return after["released"] - before


def test_memo_of_a_replaced_branch_is_released():
    plain = _released_by_replacing_a_branch(read_it=False)
    with_memo = _released_by_replacing_a_branch(read_it=True)
    assert plain > 0
    assert with_memo > plain  # the memos built by the read were released too


def test_a_view_read_before_the_commit_keeps_its_own_reference():
    s = State({"domain": {"a": {"x": 1}}})
    view = s.get("domain.a")
    s.compare_and_swap(0, {"domain.a.x": 2})
    assert view["x"] == 1
    assert s.get("domain.a.x") == 2
    assert s.stats()["pending_release"] == 0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_replacing_a_100mb_value_50_times_keeps_memory_flat():
    s = State({"heavy": {"blob": bytes(100 * 2**20)}})
    base = _rss_mb()
    for v in range(50):
        s.compare_and_swap(v, {"heavy.blob": bytes(100 * 2**20)})
    grown = _rss_mb() - base
    assert grown < 250, f"RSS grew by {grown:.0f} MB over 50 replacements of a 100 MB value"
    s.close()


def test_many_commits_leave_nothing_pending():
    s = State({"domain": {"x": 0}})
    held = []
    for v in range(20_000):
        if v % 1_000 == 0:
            held.append(s.snapshot())  # pins version v: its value must wait for the release
        s.compare_and_swap(v, {"domain.x": [v]})
    stats = s.stats()
    assert stats["live_snapshots"] == 20
    assert stats["pending_release"] >= 20
    for snap in held:
        snap.release()
    stats = s.stats()
    assert stats["pending_release"] == 0
    assert stats["live_snapshots"] == 0
    assert stats["released"] == 20_000  # every replaced value, once


def test_large_commits_release_through_the_pending_queue_before_returning():
    # 40 paths: the commit runs with the GIL released, so replaced values are queued and
    # applied when the GIL is back, still inside the same call
    objs = {f"domain.p{i}": Payload(i) for i in range(40)}
    refs = [weakref.ref(o) for o in objs.values()]
    s = State({"domain": {}})
    s.compare_and_swap(0, objs)
    del objs
    assert all(r() is not None for r in refs)
    s.compare_and_swap(1, {f"domain.p{i}": i for i in range(40)})
    assert all(r() is None for r in refs)
    from theus import _core

    assert _core.runtime_stats()["pending_decrefs"] == 0
