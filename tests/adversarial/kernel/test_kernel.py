"""Kernel rules, attacked through theus.State and TheusEngine: conflicts of new keys, keys no
path can address, diff reports, deep paths and the error texts of versions that were not kept."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

import theus
from theus import (
    DELETE,
    ArgumentError,
    PathError,
    State,
    StateUpdate,
    TheusEngine,
    TransactionError,
    process,
)


def prefix(depth: int) -> str:
    """The branch a depth-`depth` key lives in: "" (zone level), "domain", "domain.s1", ..."""
    if depth == 1:
        return ""
    return ".".join(["domain"] + [f"s{i}" for i in range(1, depth - 1)])


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def nest(depth: int, leaves: dict) -> dict:
    """A context whose branch prefix(depth) holds `leaves`."""
    d = dict(leaves)
    for name in reversed(prefix(depth).split(".") if depth > 1 else []):
        d = {name: d}
    return d


DEPTHS = [1, 2, 3, 4]


# --- disjoint new keys never conflict ----------------------------------------------------


def _race(commit, workers: int = 4, rounds: int = 300) -> tuple[int, int, int]:
    """Each round, every worker reads the version, waits for the others, then commits its own
    new key from that version (so all but one commit from a stale version). The commit may
    retry 3 times (the engine's default). Returns (committed, conflicts, stale starts)."""
    start = threading.Barrier(workers, timeout=60)
    go = threading.Barrier(workers, timeout=60)
    lock = threading.Lock()
    counts = {"ok": 0, "conflicts": 0, "stale": 0}

    def work(w: int) -> None:
        for r in range(rounds):
            start.wait()
            version = commit.version()
            go.wait()
            for attempt in range(4):
                try:
                    new = commit(version, f"domain.users.w{w}_{r}", r)
                except TransactionError:
                    with lock:
                        counts["conflicts"] += 1
                    version = commit.version()
                    continue
                with lock:
                    counts["ok"] += 1
                    counts["stale"] += new > version + 1
                break

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts["ok"], counts["conflicts"], counts["stale"]


class _StateCommit:
    def __init__(self, s) -> None:
        self.s = s

    def version(self) -> int:
        return self.s.version

    def __call__(self, version: int, path: str, value: int) -> int:
        return self.s.compare_and_swap(version, {path: value})


class _EngineCommit(_StateCommit):
    def version(self) -> int:
        return self.s.state.version


@pytest.mark.parametrize("make", ["state", "engine"])
def test_disjoint_inserts_from_four_threads_all_succeed(make):
    if make == "state":
        s = State({"domain": {"users": {}}})
        commit = _StateCommit(s)
    else:
        e = TheusEngine({"domain": {"users": {}}})
        commit = _EngineCommit(e)
    ok, conflicts, stale = _race(commit)
    assert stale >= 600  # the barrier really made most commits start from an old version
    assert (ok, conflicts) == (1200, 0)
    users = commit.s.state.domain.users if make == "engine" else commit.s.get("domain.users")
    assert len(users) == 1200


def test_disjoint_inserts_by_processes_with_default_retries():
    engine = TheusEngine({"domain": {"users": {}}})
    made = {}

    def inserter(w: int, i: int):
        @process(outputs=[f"domain.users.p{w}_{i}"])
        def insert(ctx):
            return i

        insert.__name__ = insert.__qualname__ = f"insert_{w}_{i}"
        return insert

    for w in range(4):
        for i in range(50):
            made[w, i] = inserter(w, i)
            engine.register(made[w, i])
    errors = []
    barrier = threading.Barrier(4, timeout=60)

    def work(w: int) -> None:
        barrier.wait()
        for i in range(50):
            try:
                engine.execute(made[w, i])
            except TransactionError as exc:  # pragma: no cover - the failure being tested
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(engine.state.domain.users) == 200 and engine.state.version == 200


# --- the conflict rule for missing paths, depths 1-4 --------------------------------------

# (name, setup before start, writes after start, declared path (write unless "read:"), conflict)
CONFLICTS = [
    ("sibling inserted", {}, [("a", 1)], "b", False),
    ("sibling deleted", {"a": 0}, [("a", DELETE)], "b", False),
    ("sibling replaced", {"a": 0}, [("a", 5)], "b", False),
    ("sibling inserted, read", {}, [("a", 1)], "read:b", False),
    ("same child inserted", {}, [("b", 1)], "b", True),
    ("same child deleted", {"b": 0}, [("b", DELETE)], "b", True),
    ("same child deleted, read", {"b": 0}, [("b", DELETE)], "read:b", True),
    ("same child inserted then deleted", {}, [("b", 1), ("b", DELETE)], "b", True),
    ("delete vs insert of the same child", {}, [("b", 1)], "delete:b", True),
]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("name,setup,after,declared,conflict", CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_missing_path_conflicts_only_on_that_child(depth, name, setup, after, declared, conflict):
    base = prefix(depth)
    s = State({**nest(depth, {"z": 0, **setup}), "other": {}})
    start = s.version
    for key, value in after:
        s.update({join(base, key): value})
    assert s.version > start
    kind, _, key = declared.rpartition(":")
    path = join(base, key)
    before = s.snapshot().to_dict()
    if kind == "read":
        call = lambda: s.compare_and_swap(start, {"other.x": 1}, reads=[path])  # noqa: E731
    elif kind == "delete":
        call = lambda: s.compare_and_swap(start, {path: DELETE})  # noqa: E731
    else:
        call = lambda: s.compare_and_swap(start, {path: 42})  # noqa: E731
    if conflict:
        with pytest.raises(TransactionError) as info:
            call()
        assert info.value.conflicts == (path,)
        assert path in str(info.value) and "retry" in str(info.value)
        assert s.snapshot().to_dict() == before
    else:
        assert call() == s.version


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize(
    "change",
    ["parent replaced by a leaf", "parent deleted", "parent replaced by a dict", "parent created"],
)
def test_a_changed_ancestor_still_conflicts(depth, change):
    base = prefix(depth)
    parent = base
    ctx = {"other": {}} if change == "parent created" else {**nest(depth, {"z": 0}), "other": {}}
    s = State(ctx)
    start = s.version
    if change == "parent replaced by a leaf":
        s.update({parent: 7})
    elif change == "parent deleted":
        s.update({parent: DELETE})
    elif change == "parent replaced by a dict":
        s.update({parent: {"z": 1}})
    else:
        s.update({join(base, "a"): 1})
    with pytest.raises(TransactionError) as info:
        s.compare_and_swap(start, {join(base, "b"): 1})
    assert info.value.conflicts == (join(base, "b"),)


def test_outbox_style_churn_stays_conflict_free():
    """Keys added and deleted forever in one branch (as the outbox does): a writer that read
    a recent version inserts its own new key without conflict."""
    s = State({"outbox": {}})
    for i in range(2000):
        s.update({f"outbox.m{i}": i})
        s.update({f"outbox.m{i}": DELETE})
    v = s.version
    s.update({"outbox.late": 1})
    s.update({"outbox.late": DELETE})
    assert s.compare_and_swap(v, {"outbox.mine": 1}) == v + 3
    with pytest.raises(TransactionError):
        s.compare_and_swap(v, {"outbox.late": 2})


# --- keys no path can address: refused at commit, every depth and entry point ------------

BAD_KEYS = ["a.b", "", ".", "a.", ".a", "x..y", "user@example.com"]


def _bad_value(depth_below: int, key: str):
    """A dict holding `key` depth_below levels down: {key: 1}, {"n1": {key: 1}}, ..."""
    d = {key: 1, "fine": 2}
    for i in range(depth_below, 0, -1):
        d = {f"n{i}": d}
    return d


def _entry_points():
    def state_new(value, key_path):
        State(value)

    def engine_new(value, key_path):
        TheusEngine(value)

    def state_update(value, key_path):
        s = State({"domain": {"keep": 1}})
        try:
            s.update({"domain.w": value})
        finally:
            assert s.version == 0 and s.get("domain") == {"keep": 1}

    def state_cas(value, key_path):
        s = State({"domain": {"keep": 1}})
        try:
            s.compare_and_swap(0, {"domain.w": value})
        finally:
            assert s.version == 0 and s.get("domain") == {"keep": 1}

    def engine_update(value, key_path):
        e = TheusEngine({"domain": {"keep": 1}})
        try:
            e.update({"domain.w": value})
        finally:
            assert e.state.version == 0

    def engine_cas(value, key_path):
        e = TheusEngine({"domain": {"keep": 1}})
        try:
            e.compare_and_swap(0, {"domain.w": value})
        finally:
            assert e.state.version == 0

    def process_single(value, key_path):
        e = TheusEngine({"domain": {"keep": 1}})

        @process(outputs=["domain.w"])
        def write_one(ctx):
            return value

        e.register(write_one)
        try:
            e.execute(write_one)
        finally:
            assert e.state.version == 0

    def process_update(value, key_path):
        e = TheusEngine({"domain": {"keep": 1}})

        @process(outputs=["domain.w"])
        def write_update(ctx):
            return StateUpdate({"domain.w": value})

        e.register(write_update)
        try:
            e.execute(write_update)
        finally:
            assert e.state.version == 0

    return {
        "State()": (state_new, ""),
        "TheusEngine()": (engine_new, ""),
        "State.update": (state_update, "domain.w"),
        "State.compare_and_swap": (state_cas, "domain.w"),
        "engine.update": (engine_update, "domain.w"),
        "engine.compare_and_swap": (engine_cas, "domain.w"),
        "process return": (process_single, "domain.w"),
        "process StateUpdate": (process_update, "domain.w"),
    }


ENTRY = _entry_points()


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("depth_below", [0, 1, 2, 3])
@pytest.mark.parametrize("entry", list(ENTRY))
def test_unaddressable_keys_are_refused(entry, depth_below, key):
    fn, base = ENTRY[entry]
    value = _bad_value(depth_below, key)
    if base == "":  # the initial context: the value sits in the "domain" zone
        value = {"domain": value}
        holder = ".".join(["domain"] + [f"n{i}" for i in range(1, depth_below + 1)])
    else:
        holder = ".".join([base] + [f"n{i}" for i in range(1, depth_below + 1)])
    with pytest.raises(ArgumentError) as info:
        fn(value, base)
    msg = str(info.value)
    assert f'"{key}"' in msg and f'"{holder}"' in msg and "rename the key" in msg
    assert "kernel" not in msg and "Go" not in msg


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unaddressable_zone_names_are_refused(key):
    with pytest.raises(ArgumentError, match="top level"):
        State({key: {"x": 1}})
    with pytest.raises(ArgumentError, match="top level"):
        TheusEngine({"domain": {}, key: 1})


@pytest.mark.parametrize("key", BAD_KEYS)
def test_such_keys_inside_leaf_values_are_plain_data(key):
    """Inside a list, or in a dict that is one leaf (a non-str key), any str key is data."""
    s = State({"domain": {"l": [{key: 1}], "m": {1: "one", key: 2}}})
    assert s.get("domain.l")[0][key] == 1
    assert s.get("domain.m")[key] == 2
    assert s.snapshot().to_dict() == {"domain": {"l": [{key: 1}], "m": {1: "one", key: 2}}}


@pytest.mark.parametrize("path", ["domain..x", ".domain", "domain.", "", "domain.a..b.c"])
def test_paths_with_empty_segments_are_path_errors(path):
    s = State({"domain": {}})
    with pytest.raises(PathError):
        s.update({path: 1})
    assert s.version == 0


# --- diff --------------------------------------------------------------------------------

# (name, before (absent: missing), after, expected [(kind, suffix, old, new)])
MISSING = object()
DIFFS = [
    ("leaf added", MISSING, 1, [("added", "", None, 1)]),
    ("leaf removed", 1, MISSING, [("removed", "", 1, None)]),
    ("leaf changed", 1, 2, [("changed", "", 1, 2)]),
    ("leaf type changed", 1, "1", [("changed", "", 1, "1")]),
    ("empty dict added", MISSING, {}, [("added", "", None, {})]),
    ("empty dict removed", {}, MISSING, [("removed", "", {}, None)]),
    ("dict added", MISSING, {"k": 1, "e": {}}, [("added", ".k", None, 1), ("added", ".e", None, {})]),
    ("dict removed", {"k": 1}, MISSING, [("removed", ".k", 1, None)]),
    ("leaf to dict", 1, {"k": 2}, [("changed", "", 1, {"k": 2})]),
    ("dict to leaf", {"k": 2}, 1, [("changed", "", {"k": 2}, 1)]),
    ("leaf to empty dict", 1, {}, [("changed", "", 1, {})]),
    ("empty dict to leaf", {}, 1, [("changed", "", {}, 1)]),
    ("empty dict filled", {}, {"k": 1}, [("added", ".k", None, 1)]),
    ("dict emptied", {"k": 1}, {}, [("removed", ".k", 1, None)]),
    ("empty dict replaced by an empty dict", {}, {}, []),
    ("list to dict", [1], {"k": 1}, [("changed", "", [1], {"k": 1})]),
]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("name,before,after,want", DIFFS, ids=[d[0] for d in DIFFS])
def test_diff_reports(depth, name, before, after, want):
    base = prefix(depth)
    path = join(base, "v")
    ctx = nest(depth, {"z": 0}) if depth > 1 else {"z": {}}
    s = State(ctx, history=3)
    if before is not MISSING:
        s.update({path: before})
    v1 = s.version
    s.update({path: DELETE if after is MISSING else after})
    got = [(c.kind, c.path, c.old, c.new) for c in s.diff(v1, s.version)]
    assert got == [(k, path + suffix, old, new) for k, suffix, old, new in want]
    back = [(c.kind, c.path) for c in s.diff(s.version, v1)]
    inverse = {"added": "removed", "removed": "added", "changed": "changed"}
    assert sorted(back) == sorted((inverse[k], path + suffix) for k, suffix, _, _ in want)


@pytest.mark.parametrize("call", ["at", "diff_old", "diff_new", "engine_at", "engine_diff"])
def test_a_version_not_kept_names_history(call):
    s = State({"domain": {"x": 0}})
    e = TheusEngine({"domain": {"x": 0}})
    for i in range(3):
        s.update({"domain.x": i})
        e.update({"domain.x": i})
    fn = {
        "at": lambda: s.at(1),
        "diff_old": lambda: s.diff(1, 3),
        "diff_new": lambda: s.diff(3, 1),
        "engine_at": lambda: e.at(0),
        "engine_diff": lambda: e.diff(0, 3),
    }[call]
    with pytest.raises(TransactionError) as info:
        fn()
    msg = str(info.value)
    assert "history=" in msg and "not kept" in msg and "current version is 3" in msg


@pytest.mark.parametrize("version", [4, 10**6])
def test_a_future_version_says_so(version):
    s = State({"domain": {"x": 0}}, history=5)
    with pytest.raises(TransactionError, match="does not exist yet"):
        s.at(version)
    with pytest.raises(TransactionError, match="does not exist yet"):
        s.compare_and_swap(version, {"domain.x": 1})


# --- deep paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("segments", [2_000, 20_000])
def test_deep_paths_work_end_to_end(segments):
    """Path parsing, commit, conflict check, read, diff and history on a path thousands of
    segments deep, in a subprocess (a stack overflow would kill it)."""
    code = f"""
import theus
p = "domain." + ".".join(["a"] * {segments}) + ".leaf"
s = theus.State({{"domain": {{}}}}, history=3)
assert s.update({{p: 1}}) == 1
assert s.get(p) == 1
try:
    s.compare_and_swap(0, {{p: 2}})
except theus.TransactionError as e:
    assert e.conflicts == (p,)
else:
    raise AssertionError("stale deep write accepted")
assert s.compare_and_swap(1, {{p + "x": 2}}) == 2
assert s.compare_and_swap(1, {{p: 3}}) == 3
kinds = [(c.kind, c.path) for c in s.diff(0, 3)]
assert kinds == [("added", p), ("added", p + "x")], kinds
assert s.history()[0].paths == (p,)
s.update({{"domain.a": 5}})
assert s.get("domain.a") == 5
s.close()
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_deep_path_with_a_bad_segment_is_a_path_error():
    s = State({"domain": {}})
    with pytest.raises(PathError):
        s.update({"domain." + "a." * 5000 + ".x": 1})
    assert s.version == 0
