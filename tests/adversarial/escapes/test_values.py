"""No way from a value read back to a committed mutable object: the GC's referrer walk, hashable
objects with mutable insides, copies that return committed objects, copy hooks that see the
committed instance, and views committed as if they were data."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import threading
import uuid

import pytest

from theus import ArgumentError, ContextError, TheusEngine, process
from theus._core import FrozenObject
from theus.state import State

np = pytest.importorskip("numpy")


def _unique():
    return "leaf-" + uuid.uuid4().hex


def _containers_holding(x):
    """The dicts, lists, tuples and sets the GC can see that hold x."""
    return [r for r in gc.get_referrers(x) if isinstance(r, (dict, list, tuple, set, frozenset))]


# (shape, how to find the leaf in what was read back): the leaf is a fresh str or int
SHAPES = {
    "branch": (lambda x: {"a": x}, lambda v: v["a"]),
    "list": (lambda x: [0, x], lambda v: v[1]),
    "nested_list": (lambda x: {"l": [[x]]}, lambda v: v["l"][0][0]),
    "tuple": (lambda x: (x, [1]), lambda v: v[0]),
    "intkey_dict": (lambda x: {1: x}, lambda v: v[1]),
    "dict_in_list": (lambda x: [{"k": x}], lambda v: v[0]["k"]),
    "set": (lambda x: {x}, lambda v: next(iter(v))),
    "deep4": (lambda x: {"a": {"b": {"c": {"d": x}}}}, lambda v: v["a"]["b"]["c"]["d"]),
}
LEAVES = {"str": _unique, "int": lambda: 10**30 + uuid.uuid4().int, "bytes": lambda: _unique().encode()}


def _write(entry, value):
    """Commit {"domain": {"v": value}} through entry; returns a function reading domain.v."""
    if entry == "State":
        st = State({"domain": {"v": value}})
        return st, lambda: st.get("domain.v")
    if entry == "update":
        st = State({"domain": {"v": 0}})
        st.update({"domain.v": value})
        return st, lambda: st.snapshot().domain.v
    if entry == "cas":
        st = State({"domain": {"v": 0}})
        st.compare_and_swap(0, {"domain.v": value})
        return st, lambda: st.get("domain")["v"]
    eng = TheusEngine({"domain": {"v": 0}})
    box = [value]  # the process returns the value and keeps no reference to it
    del value

    @process(inputs=["domain.v"], outputs=["domain.v"])
    def put(ctx):
        return box.pop()

    eng.execute(put)
    return eng, lambda: eng.state.domain.v


CASES = [(e, s, l) for e in ("State", "update", "cas", "process") for s in SHAPES for l in LEAVES]


@pytest.mark.parametrize("entry,shape,leaf", CASES)
def test_gc_referrers_of_a_value_read_back_find_no_committed_container(entry, shape, leaf):
    build, find = SHAPES[shape]
    x = LEAVES[leaf]()
    owner, read = _write(entry, build(x))  # the written container is dropped: only theus's copy is left
    # the committed copy holds x: reading it back must find that very object
    got = find(read())
    assert got == x
    del x
    holders = _containers_holding(got)
    assert holders == [], [type(h).__name__ for h in holders]
    # a whole-branch read builds the branch's dict: it is not reachable either
    branch = owner.get("domain") if isinstance(owner, State) else owner.state.domain
    again = find(branch["v"])
    assert again is got
    assert _containers_holding(got) == []


def test_gc_referrers_from_many_threads_reading_at_once():
    st = State({"domain": {"v": [_unique() for _ in range(20)]}})
    leaks = []

    def reader():
        for _ in range(50):
            for item in st.get("domain.v"):
                if _containers_holding(item):
                    leaks.append(item)

    ts = [threading.Thread(target=reader) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert leaks == []


def test_the_committed_list_cannot_be_changed_through_a_referrer_of_its_item():
    item = _unique()
    st = State({"domain": {"v": [item]}})
    del item
    got = st.get("domain.v")[0]
    for holder in gc.get_referrers(got):
        if isinstance(holder, list):
            holder.append("forged")
    assert st.get("domain.v") == [got]


# ---- hashable objects with mutable insides ----

@dataclasses.dataclass(frozen=True)
class Frozen:
    items: list
    n: int = 0


@dataclasses.dataclass(frozen=True)
class FrozenScalars:
    a: int
    b: tuple = (1, 2)


class Plain:
    def __init__(self, items):
        self.items = items


HASHABLE_CASES = {
    "frozen_dataclass_with_list": lambda: Frozen([1, 2]),
    "frozen_dataclass_nested": lambda: Frozen([[1]]),
    "plain_object_in_set": lambda: {Plain([1])},
    "plain_object_in_frozenset": lambda: frozenset({Plain([1])}),
    "plain_object_in_tuple": lambda: (Plain([1]),),
    "frozen_dataclass_in_tuple": lambda: (Frozen([1]), 2),
    "plain_in_list_in_dict": lambda: {"k": [Plain([1])]},
}


def _mutators(v):
    """Every object reachable from a read value whose 'items' list we may try to change."""
    out = []
    todo = [v]
    while todo:
        x = todo.pop()
        if isinstance(x, (set, frozenset, tuple, list)) or type(x).__name__ == "FrozenList":
            todo.extend(x)
        elif hasattr(x, "keys"):
            todo.extend(x.values())
        elif hasattr(x, "items"):
            out.append(x)
    return out


@pytest.mark.parametrize("name", sorted(HASHABLE_CASES))
@pytest.mark.parametrize("entry", ["State", "update", "process"])
def test_hashable_objects_come_back_frozen_inside(name, entry):
    _, read = _write(entry, HASHABLE_CASES[name]())
    got = read()
    targets = _mutators(got)
    assert targets, "the case must reach an object with items"
    for t in targets:
        assert type(t) is FrozenObject
        with pytest.raises(ContextError):
            t.items.append(9)
        with pytest.raises((ContextError, TypeError)):
            object.__setattr__(t, "items", [])
    assert _mutators(read())[0].items[0] in (1, [1])


def test_a_frozen_object_in_a_set_is_still_found_and_hashes_through_the_view():
    seen = []

    @dataclasses.dataclass(frozen=True)
    class Key:
        items: tuple

        def __hash__(self):
            seen.append(self)
            return hash(self.items)

    k = Key((1, [2]))  # hashable only through theus's view (a list inside)
    st = State({"domain": {"k": k}})
    fk = st.get("domain.k")
    assert type(fk) is FrozenObject
    assert isinstance(hash(fk), int)
    assert seen and all(type(s) is FrozenObject for s in seen)


# ---- copies never return committed objects, copy hooks never see them ----

class Selfish:
    def __init__(self):
        self.items = [1]

    def __deepcopy__(self, memo):
        return self


class Recorder:
    seen: list = []

    def __init__(self):
        self.items = [1]

    def __deepcopy__(self, memo):
        Recorder.seen.append(self)
        return Recorder()


class GetState:
    seen: list = []

    def __init__(self):
        self.items = [1]

    def __getstate__(self):
        GetState.seen.append(self)
        return self.__dict__


COPIERS = {
    "to_dict": lambda st: st.snapshot().to_dict()["domain"]["o"],
    "deepcopy": lambda st: copy.deepcopy(st.get("domain.o")),
    "copy": lambda st: copy.copy(st.get("domain.o")),
    "pickle": lambda st: pickle.loads(pickle.dumps(st.get("domain.o"))),
    "deepcopy_branch": lambda st: copy.deepcopy(st.get("domain"))["o"],
    "to_dict_in_list": lambda st: st.snapshot().to_dict()["domain"]["l"][0],
}


@pytest.mark.parametrize("how", sorted(COPIERS))
@pytest.mark.parametrize("make", [Selfish, Recorder, lambda: Frozen([1]), lambda: Plain([1]), GetState],
                         ids=["selfish", "recorder", "frozen_dc", "plain", "getstate"])
def test_copies_are_new_objects_and_hooks_never_see_the_committed_one(how, make):
    o = make()
    Recorder.seen.clear()
    GetState.seen.clear()
    st = State({"domain": {"o": o, "l": [o]}})
    c = COPIERS[how](st)
    assert c is not o and type(c) is type(o)
    c_items = c.items
    assert type(c_items) is list and c_items == [1]
    assert c_items is not o.items
    c_items.append(5)
    assert st.get("domain.o").items == [1]
    for seen in Recorder.seen + GetState.seen:
        assert seen is not o


def test_frozen_dataclass_to_dict_is_a_copy():
    p = FrozenScalars(1)
    st = State({"domain": {"p": p}})
    d = st.snapshot().to_dict()["domain"]["p"]
    assert d == p and d is not p
    object.__setattr__(d, "a", 99)
    assert st.get("domain.p").a == 1


def test_object_arrays_with_mutable_elements_are_refused():
    arr = np.empty(2, dtype=object)
    arr[0] = [1]
    arr[1] = {"k": 1}
    st = State({"domain": {}})
    with pytest.raises(ArgumentError, match=r"domain\.a: cannot store a numpy\.ndarray \(a numpy object array"):
        st.update({"domain.a": arr})
    ok = np.array([1, "x", None, 2.5], dtype=object)
    st.update({"domain.a": ok})
    got = st.get("domain.a")
    assert not got.flags.writeable and list(got) == [1, "x", None, 2.5]
    assert st.snapshot().to_dict()["domain"]["a"] is not ok


def test_ndarray_subclass_hooks_only_see_read_only_arrays():
    seen = []

    class Tracked(np.ndarray):
        def __array_finalize__(self, obj):
            if obj is not None:
                seen.append(obj)

    a = np.arange(4.0).view(Tracked)
    st = State({"domain": {"a": a}})
    seen.clear()
    got = st.get("domain.a")
    c = copy.deepcopy(got)
    d = st.snapshot().to_dict()["domain"]["a"]
    assert type(got) is Tracked and type(d) is Tracked and type(c) is Tracked
    assert seen and all(not s.flags.writeable for s in seen if isinstance(s, np.ndarray) and s is not d and s is not c)


# ---- views committed as data ----

def _engine():
    return TheusEngine({"domain": {"x": 1, "y": 2}})


VIEW_RETURNS = {
    "ctx": (["domain.x"], lambda ctx: ctx, "process context"),
    "ctx.domain (scoped)": (["domain.x"], lambda ctx: ctx.domain, "zone view"),
    "ctx.domain inside a list": (["domain.x"], lambda ctx: [ctx.domain], "zone view"),
    "ctx inside a dict": (["domain.x"], lambda ctx: {"k": ctx}, "process context"),
    "ctx inside a tuple": (["domain.x"], lambda ctx: (1, ctx), "process context"),
}


@pytest.mark.parametrize("name", sorted(VIEW_RETURNS))
def test_returning_a_view_that_is_not_data_is_refused(name):
    inputs, body, fragment = VIEW_RETURNS[name]
    eng = _engine()

    @process(inputs=inputs, outputs=["domain.y"])
    def p(ctx):
        return body(ctx)

    with pytest.raises(ArgumentError, match=fragment) as info:
        eng.execute(p)
    assert "domain.y" in str(info.value)
    assert eng.state.version == 0 and eng.state.domain.y == 2


def test_returning_a_data_view_commits_the_data():
    eng = TheusEngine({"domain": {"src": {"a": [1, 2]}, "dst": 0}})

    @process(inputs=["domain.src"], outputs=["domain.dst"])
    def p(ctx):
        return ctx.domain.src

    eng.execute(p)
    got = eng.state.domain.dst
    assert got == {"a": [1, 2]} and type(got).__name__ == "FrozenDict"


def test_dict_views_and_iterators_of_state_are_refused():
    st = State({"domain": {"d": {"a": 1}, "l": [1, 2]}})
    d = st.get("domain.d")
    for bad, fragment in ((d.keys(), "view or iterator"), (d.items(), "view or iterator"),
                          (iter(st.get("domain.l")), "view or iterator")):
        with pytest.raises(ArgumentError, match=fragment):
            st.update({"domain.x": bad})
    assert st.version == 0


class _Recorder:
    seen: list = []

    def __init__(self):
        self.items = [1, 2]

    def __repr__(self):
        _Recorder.seen.append(self)
        return f"Rec({len(self.items)})"


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_frozenobject_repr_runs_with_the_view_as_self(depth):
    value = _Recorder()
    for _ in range(depth - 1):
        value = [value]
    st = State({"domain": {"o": value}})
    read = st.get("domain.o")
    for _ in range(depth - 1):
        read = read[0]
    _Recorder.seen.clear()
    assert repr(read) == "FrozenObject(Rec(2))"
    assert len(_Recorder.seen) == 1
    leaked = _Recorder.seen[0]
    assert type(leaked) is FrozenObject
    with pytest.raises(ContextError):
        leaked.items.append(3)
    again = st.get("domain.o")
    for _ in range(depth - 1):
        again = again[0]
    assert len(again.items) == 2


def test_frozenobject_default_repr_names_the_class():
    class Plain:
        def __init__(self):
            self.a = 1

    st = State({"domain": {"o": Plain()}})
    assert repr(st.get("domain.o")).startswith("FrozenObject(<")
    assert "Plain object at" in repr(st.get("domain.o"))
