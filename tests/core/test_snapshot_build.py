"""Snapshots are built by the core (state_snapshot / state_at with an owner): the object a
user gets is a full theus.Snapshot, its pin is released exactly once, and nothing leaks."""
import gc
import sys

import pytest

import theus
from theus import _core
from theus.errors import ArgumentError, TransactionError


def _engine():
    return theus.TheusEngine({"domain": {"x": 1, "items": [1, 2]}})


def test_engine_state_is_a_snapshot_of_the_newest_version():
    e = _engine()
    e.update({"domain.x": 2})
    snap = e.state
    assert type(snap) is theus.Snapshot
    assert snap.version == 1
    assert snap.domain.x == 2
    assert snap["domain.items"] == [1, 2]
    assert snap is not e.state  # each call pins on its own


def test_state_snapshot_and_at_carry_their_state_registry():
    s = theus.State({"domain": {"x": 1}}, history=2)
    s.update({"domain.x": 2})
    now, old = s.snapshot(), s.at(0)
    assert (now.version, now.domain.x) == (1, 2)
    assert (old.version, old.domain.x) == (0, 1)
    assert now._owner is s._caching and old._owner is s._caching
    s.close()  # the registry drops the zone views both cached
    with pytest.raises(ArgumentError):
        now.domain


def test_a_snapshot_cannot_be_made_by_hand():
    s = theus.State({"domain": {}})
    h, v = _core.state_snapshot(s._h)
    with pytest.raises(TypeError, match="state.snapshot"):
        theus.Snapshot(h, v, None)
    with pytest.raises(TypeError, match="state.snapshot"):
        theus.Snapshot()


def test_pins_are_released_when_snapshots_go():
    e = _engine()
    snaps = [e.state for _ in range(50)]
    assert e._state.stats()["live_snapshots"] == 50
    snaps[0].release()
    assert e._state.stats()["live_snapshots"] == 49
    del snaps
    gc.collect()
    assert e._state.stats()["live_snapshots"] == 0


def test_many_snapshots_leave_no_references_behind():
    e = _engine()
    owner, handle = e._state._caching, e._state._h
    before = (sys.getrefcount(owner), sys.getrefcount(handle))
    for _ in range(1000):
        e.state.domain  # reads a zone: the owner registers the snapshot weakly
    gc.collect()
    assert (sys.getrefcount(owner), sys.getrefcount(handle)) == before
    assert e._state.stats()["live_snapshots"] == 0


def test_the_snapshot_keeps_its_state_readable():
    s = theus.State({"domain": {"x": 7}})
    snap = s.snapshot()
    del s
    gc.collect()
    assert snap.domain.x == 7


def test_bad_arguments_raise_clearly():
    s = theus.State({"domain": {}})
    with pytest.raises(ArgumentError, match="state_snapshot"):
        _core.state_snapshot()
    with pytest.raises(ArgumentError, match="state_snapshot"):
        _core.state_snapshot(s._h, None, None)
    with pytest.raises(ArgumentError, match="state_at"):
        _core.state_at(s._h)
    with pytest.raises(TransactionError, match="future"):
        _core.state_at(s._h, 5, s._caching)
    assert s.stats()["live_snapshots"] == 0  # a refused call pins nothing
    with pytest.raises(TypeError, match="__slots__"):
        _core._snapshot_type(dict, {}, len)
    with pytest.raises(TypeError, match="__slots__"):
        _core._snapshot_type(theus.Snapshot, {"no_such_slot": "domain"}, len)
    with pytest.raises(TypeError, match="class"):
        _core._snapshot_type(42, {}, len)
    with pytest.raises(TypeError, match="class"):
        _core._snapshot_type(theus.Snapshot)
    assert type(s.snapshot()) is theus.Snapshot  # a refused registration kept the real one


def test_zone_reads_load_once_and_fail_clearly():
    s = theus.State({"domain": {"x": 1}, "extra": {"y": 2}})
    snap = s.snapshot()
    first = snap.domain
    assert snap.domain is first  # kept in its slot
    assert snap.extra.y == 2 and snap.extra is snap.extra  # a zone without a slot
    with pytest.raises(AttributeError, match="no zone named 'heavy' in version 0"):
        snap.heavy
    with pytest.raises(AttributeError, match="no zone named 'global' in version 0"):
        snap.global_
    with pytest.raises(AttributeError, match="no zone named 'nope'"):
        snap.nope
    assert getattr(snap, "heavy", None) is None and not hasattr(snap, "outbox")
    snap.release()
    with pytest.raises(ArgumentError, match="released"):
        snap.domain  # the released snapshot dropped the view it kept
    with pytest.raises(ArgumentError, match="released"):
        snap.extra
    assert type(theus.Snapshot.domain).__name__ == "zone_slot"  # the class attribute itself


def test_the_registry_of_caching_snapshots_stays_bounded():
    e = _engine()
    kept = [e.state for _ in range(10)]
    for snap in kept:
        snap.domain
    for _ in range(5000):
        e.state.domain  # each registers, then dies
    registry = e._state._caching
    assert len(registry) <= 2 * len(kept) + 64 + 1
    assert sorted(map(id, registry.snapshots())) == sorted(map(id, kept))
    e.close()
    for snap in kept:  # close() dropped the views the live ones cached
        with pytest.raises(ArgumentError):
            snap.domain


def test_threads_reading_zones_while_another_commits():
    import threading

    e = theus.TheusEngine({"domain": {"x": 0, "items": [1]}})
    errors, seen = [], []

    def read():
        try:
            for _ in range(2000):
                snap = e.state
                d = snap.domain
                seen.append(d.get("x") == snap.version)  # update v commits x = v as version v
                assert d.get is not None and d.items()
        except BaseException as exc:  # collected, then asserted on below
            errors.append(exc)

    def write():
        for v in range(1, 500):
            e.update({"domain.x": v})

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 8000 and all(seen)
    gc.collect()
    assert e._state.stats()["live_snapshots"] == 0
    assert len(e._state._caching) <= 2 * 4 + 64 + 4  # the registry did not grow with the reads
