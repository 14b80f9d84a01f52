"""A commit reads its updates dict in batches (the C shim reads the first one before Go
runs) and hands the values it releases back to the shim to drop: every entry is committed
once, every released value is dropped once, and nothing read ahead leaks when the commit is
refused or the dict changes while a value is converted."""
import gc
import sys
import weakref

import pytest

import theus
from theus.errors import ArgumentError, PathError, TransactionError


class Tracked:
    """A plain object (stored as a private copy) that counts its live instances."""

    live = 0

    def __new__(cls, *args):
        Tracked.live += 1  # copies too: however the state copies, it makes a new instance
        return super().__new__(cls)

    def __init__(self, n):
        self.n = n

    def __del__(self):
        Tracked.live -= 1


@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 100, 1000])
def test_every_entry_of_a_large_update_is_committed(n):
    s = theus.State({"domain": {}})
    updates = {f"domain.k{i}": (i if i % 3 else f"v{i}") for i in range(n)}
    s.compare_and_swap(s.version, updates)
    got = s.get("domain").to_dict()
    assert got == {f"k{i}": (i if i % 3 else f"v{i}") for i in range(n)}


def test_mixed_values_past_the_first_batch():
    s = theus.State({"domain": {}})
    updates = {}
    for i in range(40):
        updates[f"domain.k{i}"] = [i] if i % 5 == 0 else ({"inner": i} if i % 7 == 0 else float(i))
    s.update(updates)
    snap = s.snapshot()
    for i in range(40):
        want = [i] if i % 5 == 0 else ({"inner": i} if i % 7 == 0 else float(i))
        assert snap[f"domain.k{i}"] == want


@pytest.mark.parametrize("n", [1, 10, 16, 17, 40, 200])
def test_values_a_commit_releases_are_freed_once(n):
    gc.collect()
    base = Tracked.live
    s = theus.State({"domain": {f"k{i}": i for i in range(n)}})
    s.update({f"domain.k{i}": Tracked(i) for i in range(n)})
    gc.collect()
    assert Tracked.live == base + n  # the state holds one instance per key
    s.update({f"domain.k{i}": -i for i in range(n)})  # releases them (past the shim's room)
    assert Tracked.live == base
    assert s.get("domain").to_dict() == {f"k{i}": -i for i in range(n)}


@pytest.mark.parametrize("n", [5, 40])
def test_a_live_snapshot_keeps_the_values_a_commit_replaced(n):
    gc.collect()
    base = Tracked.live
    s = theus.State({"domain": {f"k{i}": Tracked(i) for i in range(n)}})
    assert Tracked.live == base + n  # the originals were temporaries: only the copies live
    snap = s.snapshot()
    s.update({f"domain.k{i}": i for i in range(n)})
    assert Tracked.live == base + n
    snap.release()
    assert Tracked.live == base


def test_str_values_keep_their_reference_counts_across_commits():
    value = "x" * 50 + "unique-value"
    base = sys.getrefcount(value)
    s = theus.State({"domain": {}})
    for i in range(50):
        s.update({f"domain.k{i % 20}": value})
    assert sys.getrefcount(value) == base + 20  # one reference per key that holds it
    s.update({f"domain.k{i}": 0 for i in range(20)})
    assert sys.getrefcount(value) == base


@pytest.mark.parametrize("bad", ["version", "author", "reads", "closed"])
def test_entries_read_ahead_are_dropped_when_the_commit_is_refused(bad):
    value = "y" * 40 + "refused"
    s = theus.State({"domain": {"a": 1}})
    updates = {f"domain.k{i}": value for i in range(5)}
    base = sys.getrefcount(value)
    if bad == "closed":
        s.close()
    for _ in range(20):
        with pytest.raises((ArgumentError, TransactionError, PathError)):
            if bad == "version":
                s.compare_and_swap(99, updates)
            elif bad == "author":
                theus.state.state_commit(s._h, 0, updates, None, 3, False)
            elif bad == "reads":
                s.compare_and_swap(0, updates, reads=["bad..path"])
            else:
                s.compare_and_swap(0, updates)
    assert sys.getrefcount(value) == base


def test_a_bad_path_after_plain_values_drops_the_values_read_with_it():
    value = "z" * 40 + "bad-path"
    s = theus.State({"domain": {}})
    updates = {f"domain.k{i}": value for i in range(10)}
    updates["domain..broken"] = value
    updates.update({f"domain.m{i}": value for i in range(10)})
    base = sys.getrefcount(value)
    for _ in range(10):
        with pytest.raises(PathError):
            s.update(updates)
    assert sys.getrefcount(value) == base
    assert s.version == 0


def test_a_key_that_cannot_be_encoded_is_a_clear_error_wherever_it_sits():
    s = theus.State({"domain": {}})
    for before in (0, 3, 20):
        updates = {f"domain.k{i}": i for i in range(before)}
        updates["domain.\udcff"] = 1
        with pytest.raises(UnicodeEncodeError):
            s.update(updates)
    assert s.version == 0


def test_a_value_whose_copy_empties_the_updates_dict_ends_the_walk_cleanly():
    s = theus.State({"domain": {}})
    updates = {}

    class Evil:
        hashed = 0

        def __hash__(self):
            Evil.hashed += 1
            if Evil.hashed == 2:  # the commit's copy of the set: drops the later keys and values
                updates.clear()
            return 1

    evil = Evil()
    updates["domain.a"] = 1
    updates["domain.b"] = {evil}
    for i in range(30):
        updates[f"domain.c{i}"] = "v" * 30 + str(i)
    assert s.update(updates) == 1
    assert Evil.hashed == 2
    assert sorted(s.get("domain").to_dict()) == ["a", "b"]  # what was read before the change


def test_strict_must_be_a_bool_for_the_read_ahead():
    s = theus.State({"domain": {}})

    class Truthy:
        def __bool__(self):
            updates.clear()
            return False

    updates = {f"domain.k{i}": "w" * 30 + str(i) for i in range(20)}
    v = theus.state.state_commit(s._h, 0, updates, None, None, Truthy())
    assert v == 1
    assert s.get("domain").to_dict() == {}  # the dict was emptied before the walk
