"""The low-level versioned state: reads, compare-and-swap, snapshots, history, bad input."""

from __future__ import annotations

import pytest

import theus
from theus import ArgumentError, PathError, State, TheusError, TransactionError


@pytest.fixture
def state():
    s = State({"domain": {"x": 0, "user": {"name": "ann", "tags": ["a"]}}, "global": {"limit": 10}})
    yield s
    s.close()


def test_new_state_starts_at_version_zero(state):
    assert state.version == 0
    assert state.get("domain.x") == 0
    assert state.get("global.limit") == 10
    assert state.get("domain.user.name") == "ann"


def test_cas_commits_and_increments_version_by_one(state):
    assert state.compare_and_swap(0, {"domain.x": 1}) == 1
    assert state.version == 1
    assert state.get("domain.x") == 1
    assert state.compare_and_swap(1, {"domain.x": 2, "global.limit": 5}) == 2
    assert (state.get("domain.x"), state.get("global.limit")) == (2, 5)


def test_cas_at_version_zero_is_checked_like_any_other(state):
    state.compare_and_swap(0, {"domain.x": 1})
    with pytest.raises(TransactionError) as info:
        state.compare_and_swap(0, {"domain.x": 5})
    err = info.value
    assert (err.expected_version, err.actual_version) == (0, 1)
    assert err.conflicts == ("domain.x",)
    assert state.get("domain.x") == 1 and state.version == 1


def test_disjoint_paths_do_not_conflict(state):
    state.compare_and_swap(0, {"domain.x": 1})
    assert state.compare_and_swap(0, {"global.limit": 3}) == 2
    assert state.get("domain.x") == 1 and state.get("global.limit") == 3


def test_declared_reads_conflict(state):
    state.compare_and_swap(0, {"global.limit": 11})
    with pytest.raises(TransactionError) as info:
        state.compare_and_swap(0, {"domain.x": 1}, reads=["global.limit"])
    assert info.value.conflicts == ("global.limit",)
    assert state.get("domain.x") == 0


def test_parent_write_conflicts_with_child_reader(state):
    state.compare_and_swap(0, {"domain.user": {"name": "bob"}})
    with pytest.raises(TransactionError):
        state.compare_and_swap(0, {"domain.x": 1}, reads=["domain.user.name"])


def test_strict_state_rejects_any_change():
    s = State({"domain": {"a": 0, "b": 0}}, strict=True)
    s.compare_and_swap(0, {"domain.a": 1})
    with pytest.raises(TransactionError) as info:
        s.compare_and_swap(0, {"domain.b": 1})
    assert info.value.conflicts == ()
    assert s.get("domain.b") == 0


def test_output_path_replaces_exactly_that_subtree(state):
    state.compare_and_swap(0, {"domain.user.name": "bob"})
    assert state.get("domain.user.tags") == ["a"]
    assert state.get("domain.x") == 0
    state.compare_and_swap(1, {"domain.user": {"age": 3}})
    assert state.get("domain.user").to_dict() == {"age": 3}
    assert state.get("domain.x") == 0


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_path_mapping_is_exact_at_every_depth(depth):
    keys = [f"k{i}" for i in range(depth)]
    tree: dict = {"sibling": 1, "leaf": 0}
    for k in reversed(keys):
        tree = {k: tree, "sibling": 1}
    s = State({"domain": tree})
    path = ".".join(["domain", *keys, "leaf"])
    s.compare_and_swap(0, {path: 42})
    assert s.get(path) == 42
    node = s.get("domain").to_dict()
    for k in keys:
        assert node["sibling"] == 1
        node = node[k]
    assert node == {"sibling": 1, "leaf": 42}


def test_new_paths_and_branches_are_created(state):
    state.compare_and_swap(0, {"domain.new.deep.key": 1, "extra.zone": "z"})
    assert state.get("domain.new.deep.key") == 1
    assert state.get("extra.zone") == "z"


def test_committed_values_are_private_copies(state):
    items = [1, 2, {"n": [3]}]
    state.compare_and_swap(0, {"domain.items": items})
    items.append(4)
    items[2]["n"].append(5)
    assert state.get("domain.items").to_list() == [1, 2, {"n": [3]}]


def test_dict_values_keep_insertion_order(state):
    state.compare_and_swap(0, {"domain.order": {"z": 1, "a": 2, "m": 3}})
    assert list(state.get("domain.order")) == ["z", "a", "m"]
    state.compare_and_swap(1, {"domain.order.a": 9, "domain.order.b": 4})
    assert list(state.get("domain.order")) == ["z", "a", "m", "b"]


def test_reads_are_read_only(state):
    user = state.get("domain.user")
    with pytest.raises(theus.ContextError):
        user["name"] = "eve"
    with pytest.raises(theus.ContextError):
        user["tags"].append("b")
    assert state.get("domain.user.name") == "ann"
    assert state.get("domain.user.tags") == ["a"]


def test_snapshot_is_isolated_from_later_commits(state):
    snap = state.snapshot()
    state.compare_and_swap(0, {"domain.x": 7})
    assert snap.version == 0 and snap["domain.x"] == 0
    assert snap.domain.x == 0 and snap.global_.limit == 10
    assert state.snapshot()["domain.x"] == 7
    assert snap.to_dict()["domain"]["user"] == {"name": "ann", "tags": ["a"]}
    snap.release()
    with pytest.raises(ArgumentError):
        snap["domain.x"]


def test_snapshot_get_default_and_contains(state):
    with state.snapshot() as snap:
        assert snap.get("domain.missing", 5) == 5
        assert "domain.x" in snap and "domain.nope" not in snap
        with pytest.raises(AttributeError):
            snap.nozone


def test_history_records_version_author_paths_time(state):
    state.compare_and_swap(0, {"domain.x": 1, "global.limit": 2}, author="setup")
    state.compare_and_swap(1, {"domain.x": 2})
    h = state.history()
    assert [r.version for r in h] == [1, 2]
    assert h[0].process == "setup" and h[1].process is None
    assert h[0].paths == ("domain.x", "global.limit")
    assert h[0].time <= h[1].time


def test_history_is_bounded():
    s = State({"domain": {"x": 0}}, history_size=5)
    for v in range(20):
        s.compare_and_swap(v, {"domain.x": v + 1})
    assert [r.version for r in s.history()] == [16, 17, 18, 19, 20]


def test_at_and_diff_with_retained_versions():
    s = State({"domain": {"x": 0, "y": 1}}, history=3)
    s.compare_and_swap(0, {"domain.x": 1})
    s.compare_and_swap(1, {"domain.z": 2})
    s.compare_and_swap(2, {"domain.y": 5})
    s.compare_and_swap(3, {"domain.w": 0})
    assert s.at(1)["domain.x"] == 1  # the newest version and the 3 before it are kept
    changes = {c.path: (c.kind, c.old, c.new) for c in s.diff(1, 3)}
    assert changes == {"domain.z": ("added", None, 2), "domain.y": ("changed", 1, 5)}
    with pytest.raises(TransactionError):
        s.at(0)  # older than that


def test_update_is_unconditional(state):
    state.compare_and_swap(0, {"domain.x": 5})
    assert state.update({"domain.x": 6}) == 2
    assert state.get("domain.x") == 6


# --- bad input: clear theus errors, state unchanged ---------------------------------------

BAD_PATHS = ["", "a..b", ".a", "a.", "domain..x", 3, None, b"domain.x"]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_malformed_paths_raise_path_error(state, bad):
    with pytest.raises(PathError) as info:
        state.compare_and_swap(0, {bad: 1})
    assert info.value.code == "empty" or info.value.code == "malformed"
    with pytest.raises(PathError):
        state.get(bad)
    assert state.version == 0


def test_unknown_path_names_the_path(state):
    with pytest.raises(PathError, match="domain.nope") as info:
        state.get("domain.nope")
    assert info.value.code == "not_found"
    assert isinstance(info.value, KeyError)
    assert state.get("domain.nope", None) is None


def test_path_through_a_leaf(state):
    with pytest.raises(PathError) as info:
        state.get("domain.x.y")
    assert info.value.code == "not_a_branch"
    with pytest.raises(PathError):
        state.compare_and_swap(0, {"domain.x.y": 1})
    assert state.version == 0 and state.get("domain.x") == 0


def test_overlapping_writes_are_rejected(state):
    with pytest.raises(PathError) as info:
        state.compare_and_swap(0, {"domain.user": {}, "domain.user.name": "x"})
    assert info.value.code == "overlap"
    assert state.version == 0


@pytest.mark.parametrize("bad", [[1], "ctx", 5, ({"domain": {}},)])
def test_non_dict_context_raises(bad):
    with pytest.raises(ArgumentError, match="dict"):
        State(bad)


def test_non_str_zone_names_raise():
    with pytest.raises(ArgumentError):
        State({1: {}})


@pytest.mark.parametrize("bad", [-1, -(2**70), 2**70, 1.0, "0", None])
def test_bad_expected_versions(state, bad):
    with pytest.raises(TheusError) as info:
        state.compare_and_swap(bad, {"domain.x": 1})
    assert str(bad) in str(info.value) or type(bad).__name__ in str(info.value) or "large" in str(info.value)
    assert state.version == 0 and state.get("domain.x") == 0


def test_future_expected_version_is_a_transaction_error(state):
    with pytest.raises(TransactionError, match="5"):
        state.compare_and_swap(5, {"domain.x": 1})
    assert state.version == 0


def test_non_dict_updates(state):
    with pytest.raises(ArgumentError, match="updates"):
        state.compare_and_swap(0, [("domain.x", 1)])


def test_cyclic_value_is_rejected_cleanly(state):
    cyc: list = []
    cyc.append(cyc)
    with pytest.raises(RecursionError):
        state.compare_and_swap(0, {"domain.c": cyc})
    assert state.version == 0


def test_closed_state_raises(state):
    state.close()
    with pytest.raises(ArgumentError, match="closed"):
        state.version
    state.close()  # idempotent


def test_errors_are_theus_errors():
    for cls in (theus.ContextError, PathError, ArgumentError, TransactionError,
                theus.ContractViolationError, theus.FluxError, theus.InternalError):
        assert issubclass(cls, TheusError)
    assert issubclass(theus.ContextError, AttributeError) and issubclass(theus.ContextError, TypeError)


def test_committed_arrays_and_buffers_are_copies():
    np = pytest.importorskip("numpy")
    arr = np.arange(4)
    buf = bytearray(b"abc")
    s = State({"domain": {"arr": arr, "buf": buf, "mv": memoryview(bytearray(b"xy"))}})
    arr[0] = 99
    buf[0] = ord("z")
    view = s.get("domain.arr")
    assert view.tolist() == [0, 1, 2, 3]
    assert not view.flags.writeable
    assert bytes(s.get("domain.buf")) == b"abc"
    assert s.get("domain.mv") == b"xy"


def test_a_number_is_never_a_core_handle():
    from theus import _core

    s = State({"domain": {"x": 1}})
    for number in (987_654_321, 1, 2, 3):  # never issued, or issued to some other object
        with pytest.raises(theus.ArgumentError, match="expected a theus handle"):
            _core.state_get(number, "domain.x")
    assert s.get("domain.x") == 1  # still fully usable


@pytest.mark.parametrize("args", [(), (1, 2, 3, 4, 5, 6, 7), ("h", "p")])
def test_private_entry_points_reject_bad_arguments(args):
    from theus import _core

    with pytest.raises(theus.TheusError):
        _core.state_get(*args)


def test_user_code_run_while_copying_cannot_free_the_value_being_copied():
    np = pytest.importorskip("numpy")
    updates: dict = {}

    class Sneaky(np.ndarray):
        def copy(self, *args, **kwargs):
            updates.clear()  # drops the caller's only reference to this array
            return np.asarray(self).copy()

    updates["domain.a"] = np.arange(3).view(Sneaky)
    s = State({"domain": {}})
    s.compare_and_swap(0, updates)
    assert updates == {}  # the copy really ran the user code
    assert s.get("domain.a").tolist() == [0, 1, 2]


def test_delete_removes_a_path_and_its_subtree(state):
    from theus import DELETE

    state.compare_and_swap(0, {"domain.user": DELETE, "domain.x": 5})
    assert state.get("domain").to_dict() == {"x": 5}
    assert state.history()[-1].paths == ("domain.user", "domain.x")
    with pytest.raises(PathError, match="domain.user") as info:
        state.compare_and_swap(1, {"domain.user": DELETE})
    assert info.value.code == "not_found"
    with pytest.raises(ArgumentError, match="DELETE"):
        state.compare_and_swap(1, {"domain.y": {"inner": DELETE}})
    assert state.version == 1


def test_snapshot_of_a_closed_state_raises_instead_of_crashing():
    s = State({"domain": {"a": 1}})
    snap = s.snapshot()
    s.close()
    with pytest.raises(ArgumentError, match="closed"):
        snap.to_dict()
