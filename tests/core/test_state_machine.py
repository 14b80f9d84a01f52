"""Model-based test: hypothesis drives a TheusEngine (and its State) with random commits,
deletes, snapshots, processes and outbox traffic, and checks every step against a plain-Python
model of the same semantics: one version per commit, values read back equal what was written,
snapshots keep showing their version, conflicts reject exactly the commits whose paths moved,
the history keeps the last N versions, and messages are delivered once, in commit order."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, consumes, invariant, precondition,
                                 rule)

from theus import (DELETE, ContractViolationError, PathError, TheusEngine, TransactionError,
                   process)

HISTORY = 3
KEYS = [f"domain.k{i}" for i in range(4)] + ["domain.n.a", "domain.n.b"]
VALUES = st.one_of(
    st.integers(-5, 5),
    st.text("ab", max_size=2),
    st.lists(st.integers(0, 3), max_size=3),
    st.fixed_dictionaries({"a": st.integers(0, 3)}),
)


def _plain(value):
    """A value read back from theus as plain data (views thawed)."""
    for method in ("to_dict", "to_list"):
        fn = getattr(type(value), method, None)
        if fn is not None:
            return fn(value)
    return value


def _get(tree: dict, path: str):
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _set(tree: dict, path: str, value) -> None:
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


def _delete(tree: dict, path: str) -> None:
    parts = path.split(".")
    node = _get(tree, ".".join(parts[:-1])) if len(parts) > 1 else tree
    del node[parts[-1]]


def _related(a: str, b: str) -> bool:
    """Whether two paths are the same, or one lies below the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0]


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


@process(outputs=["domain.sent"])
def send(ctx, topic: str):
    ctx.outbox.add(topic, {"t": topic})
    return topic


class EngineMachine(RuleBasedStateMachine):
    """The engine under test beside its model: ``versions[v]`` is the whole state at version
    v (outbox excluded), ``writes[v]`` the paths commit v wrote (None: unknown paths, e.g. an
    outbox delivery), ``outbox`` the queued topics in commit order."""

    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        initial = {"domain": {"counter": 0, "k0": 0, "n": {"a": 1}}, "global": {"g": 1}}
        self.engine = TheusEngine(copy.deepcopy(initial), history=HISTORY, retries=1)
        for p in (increment, send):
            self.engine.register(p)
        self.versions: list[dict] = [copy.deepcopy(initial)]
        self.writes: list[list[str] | None] = [[]]
        self.outbox: list[str] = []
        self.held: dict[int, int] = {}  # version -> live snapshots of it

    # --- helpers ----------------------------------------------------------------------

    @property
    def version(self) -> int:
        return len(self.versions) - 1

    def _commit(self, paths: list[str] | None, change) -> None:
        tree = copy.deepcopy(self.versions[-1])
        change(tree)
        self.versions.append(tree)
        self.writes.append(paths)

    def _verdict(self, expected: int, paths: list[str]) -> bool | None:
        """True: the commit must be rejected; False: it must succeed; None: either is right
        (a path that was missing at `expected`, next to concurrent writes: the rule for new
        keys is the kernel's to choose)."""
        if expected > self.version:
            return True
        later = self.writes[expected + 1:]
        if any(w is None for w in later):
            return None
        moved = [w for ws in later for w in ws]
        if any(_related(p, w) for p in paths for w in moved):
            return True
        start = self.versions[expected]
        for p in paths:
            try:
                _get(start, p)
            except KeyError:
                if any(_related(_parent(p), w) for w in moved):
                    return None
        return False

    # --- rules ------------------------------------------------------------------------

    @rule(path=st.sampled_from(KEYS), value=VALUES, back=st.integers(0, 3))
    def compare_and_swap(self, path, value, back):
        expected = max(0, self.version - back)
        verdict = self._verdict(expected, [path])
        try:
            new = self.engine.compare_and_swap(expected, {path: value})
        except TransactionError as e:
            assert verdict is not False, f"{path} rejected at {expected}: {e}"
            assert e.expected_version == expected
            return
        assert verdict is not True, f"{path} accepted at {expected} although it moved"
        self._commit([path], lambda t: _set(t, path, value))
        assert new == self.version

    @rule(path=st.sampled_from(KEYS), value=VALUES)
    def update(self, path, value):
        assert self.engine.update({path: value}) == self.version + 1
        self._commit([path], lambda t: _set(t, path, value))

    @rule(path=st.sampled_from(KEYS))
    def delete(self, path):
        try:
            _get(self.versions[-1], path)
            present = True
        except KeyError:
            present = False
        if not present:
            with pytest.raises(PathError):
                self.engine.update({path: DELETE})
            return
        self.engine.update({path: DELETE})
        self._commit([path], lambda t: _delete(t, path))

    @rule()
    def execute(self):
        before = _get(self.versions[-1], "domain.counter")
        assert self.engine.execute(increment) == before + 1
        self._commit(["domain.counter"], lambda t: _set(t, "domain.counter", before + 1))

    @rule()
    def contended_execute(self):
        engine = self.engine

        @process(inputs=["domain.counter"], outputs=["domain.counter"])
        def loses(ctx):
            engine.update({"domain.counter": ctx.domain.counter + 10})  # wins every attempt
            return -1

        start = _get(self.versions[-1], "domain.counter")
        with pytest.raises(TransactionError) as info:
            engine.execute(loses)
        assert info.value.attempts == 2  # retries=1
        for i in (1, 2):
            self._commit(["domain.counter"], lambda t, i=i: _set(t, "domain.counter", start + 10 * i))

    @rule()
    def lossy_process(self):
        @process()
        def lossy(ctx):
            return 1
        with pytest.raises(ContractViolationError):
            self.engine.execute(lossy)

    @rule(topic=st.sampled_from(["a", "b", "c"]))
    def send_message(self, topic):
        assert self.engine.execute(send, topic=topic) == topic
        self.outbox.append(topic)
        self._commit(["domain.sent", "outbox"], lambda t: _set(t, "domain.sent", topic))

    @rule()
    def drain(self):
        got: list[str] = []
        n = self.engine.process_outbox(lambda m: got.append(m.topic))
        assert got == self.outbox and n == len(got)
        for _ in got:  # per delivered message: its claim, then its removal
            self._commit(None, lambda t: None)
            self._commit(None, lambda t: None)
        self.outbox = []

    @rule(target=snapshots)
    def take_snapshot(self):
        snap = self.engine.state
        assert snap.version == self.version
        self.held[snap.version] = self.held.get(snap.version, 0) + 1
        return snap

    @rule(snap=snapshots)
    def read_snapshot(self, snap):
        model = self.versions[snap.version]
        assert _without_outbox(snap.to_dict()) == model
        for path in KEYS:
            try:
                want = _get(model, path)
            except KeyError:
                assert snap.get(path, "absent") == "absent"
                continue
            assert _plain(snap[path]) == want

    @rule(snap=consumes(snapshots))
    def release_snapshot(self, snap):
        v = snap.version
        snap.release()
        self.held[v] -= 1
        with pytest.raises(Exception):
            snap.to_dict()

    @precondition(lambda self: self.version > 0)
    @rule(back=st.integers(0, HISTORY + 2))
    def read_old_version(self, back):
        v = max(0, self.version - back)
        kept = back < HISTORY or self.held.get(v, 0) > 0
        try:
            snap = self.engine.at(v)
        except TransactionError as e:
            assert not kept, f"version {v} should be kept: {e}"
            assert "history=" in str(e)
            return
        with snap:
            assert _without_outbox(snap.to_dict()) == self.versions[v]

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def same_version_and_values(self):
        snap = self.engine.state
        with snap:
            assert snap.version == self.version
            assert _without_outbox(snap.to_dict()) == self.versions[-1]

    @invariant()
    def history_matches(self):
        records = self.engine.history()
        assert [r.version for r in records] == list(range(max(1, self.version - len(records) + 1),
                                                           self.version + 1))
        for r in records[-3:]:
            paths = self.writes[r.version]
            if paths is not None:
                assert set(r.paths) <= set(paths) | {p for p in r.paths if p.startswith("outbox")}

    @invariant()
    def bookkeeping(self):
        stats = self.engine._state.stats()
        assert stats["live_snapshots"] == sum(self.held.values()) + 0
        assert stats["version"] == self.version

    def teardown(self):
        self.engine.close()


def _without_outbox(tree: dict) -> dict:
    return {k: v for k, v in tree.items() if k != "outbox"}


EngineMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineMachine = EngineMachine.TestCase
