"""No comparison, repr or referrer walk hands a committed object to user code.

Comparisons (==, !=, ordering, in, count, index, containment in values()/items()) used to give
numpy's __array_function__ (and a foreign __eq__) the raw committed value; repr gave a
container subclass's __repr__ its raw self; and the private dicts a context keeps (its zones,
a scoped view's resolved values, the extras) and the list behind a FrozenList slice were
reachable with gc.get_referrers from a value read back, so changing them changed what a
process saw. Every case here would see the committed object if the rule were broken.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import theus
from theus import FrozenDict, FrozenList, TheusEngine, process
from theus._core import _context, _freeze

SEEN: list = []


class ArraySpy(np.ndarray):
    """numpy hands every operand of array_equal to this __array_function__."""

    def __array_function__(self, func, types, args, kwargs):
        SEEN.extend(args)
        return False


class EqSpy:
    """A foreign __eq__ (and ordering) receives the other operand."""

    def __eq__(self, other):
        SEEN.append(other)
        return False

    def __lt__(self, other):
        SEEN.append(other)
        return False

    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = None


def array_spy():
    return np.arange(3).view(ArraySpy)


RAW_KINDS = {
    "ndarray": lambda: np.arange(3),
    "list": lambda: [1, 2],
    "dict": lambda: {"a": 1},
    "list-of-array": lambda: [np.arange(2)],
    "tuple-with-list": lambda: (1, [2]),
    "nested-dict": lambda: {"a": {"b": [1]}},
}

SPIES = {"array": array_spy, "eq": EqSpy}


def _list_ops(fl, spy):
    yield lambda: fl == [spy]
    yield lambda: fl != [spy]
    yield lambda: fl == (spy,)
    yield lambda: spy in fl
    yield lambda: fl.count(spy)
    yield lambda: fl.index(spy)
    yield lambda: fl < [spy]
    yield lambda: fl >= [spy]


def _dict_ops(fd, spy):
    yield lambda: fd == {"k": spy}
    yield lambda: fd != {"k": spy}
    yield lambda: spy in fd.values()
    yield lambda: ("k", spy) in fd.items()


LIST_OPS = ["==", "!=", "== tuple", "in", "count", "index", "<", ">="]
DICT_OPS = ["==", "!=", "in values()", "in items()"]


def _run(op):
    try:
        op()
    except (ValueError, TypeError):
        pass  # index() of an absent value, or ordering refused: what was handed out counts


def _assert_nothing_raw(seen, spy, must_run=True):
    if must_run:
        assert seen, "the spy never ran: the case proves nothing"
    for x in seen:
        if x is spy or isinstance(x, (ArraySpy, EqSpy)):
            continue
        assert type(x) not in (list, dict, set), f"raw committed {type(x).__name__} handed out: {x!r}"
        if isinstance(x, tuple):
            assert all(type(i) not in (list, dict) for i in x), f"raw item inside {x!r}"
        if isinstance(x, np.ndarray):
            assert not x.flags.writeable, "a writable committed array was handed out"


def _snapshot_value(raw):
    engine = TheusEngine({"domain": {"seq": [raw], "map": {"k": raw}}})
    snap = engine.state
    return engine, snap.domain.seq, snap.domain.map


@pytest.mark.parametrize("spy_kind", sorted(SPIES))
@pytest.mark.parametrize("raw_kind", sorted(RAW_KINDS))
@pytest.mark.parametrize("op_index", range(len(LIST_OPS)), ids=LIST_OPS)
def test_list_comparisons_hand_out_only_views(op_index, raw_kind, spy_kind):
    engine, fl, _ = _snapshot_value(RAW_KINDS[raw_kind]())
    assert type(fl) is FrozenList
    spy = SPIES[spy_kind]()
    SEEN.clear()
    _run(list(_list_ops(fl, spy))[op_index])
    # numpy compares an array with a plain object without calling its __eq__
    _assert_nothing_raw(SEEN, spy, must_run=(raw_kind, spy_kind) != ("ndarray", "eq"))
    engine.close()


@pytest.mark.parametrize("spy_kind", sorted(SPIES))
@pytest.mark.parametrize("raw_kind", sorted(RAW_KINDS))
@pytest.mark.parametrize("op_index", range(len(DICT_OPS)), ids=DICT_OPS)
def test_dict_comparisons_hand_out_only_views(op_index, raw_kind, spy_kind):
    engine, _, fd = _snapshot_value(RAW_KINDS[raw_kind]())
    assert type(fd) is FrozenDict
    spy = SPIES[spy_kind]()
    SEEN.clear()
    _run(list(_dict_ops(fd, spy))[op_index])
    _assert_nothing_raw(SEEN, spy, must_run=(raw_kind, spy_kind) != ("ndarray", "eq"))
    engine.close()


@pytest.mark.parametrize("raw_kind", sorted(RAW_KINDS))
def test_comparisons_inside_a_process_hand_out_only_views(raw_kind):
    engine = TheusEngine({"domain": {"seq": [RAW_KINDS[raw_kind]()], "map": {"k": RAW_KINDS[raw_kind]()}}})

    @process(inputs=["domain.seq", "domain.map"], outputs=[])
    def compare(ctx):
        for spy in (array_spy(), EqSpy()):
            for op in list(_list_ops(ctx.domain.seq, spy)) + list(_dict_ops(ctx.domain.map, spy)):
                _run(op)

    SEEN.clear()
    engine.execute(compare)
    _assert_nothing_raw(SEEN, None)
    engine.close()


def test_array_comparison_still_compares():
    engine = TheusEngine({"domain": {"seq": [np.arange(3)], "map": {"k": np.arange(3)}}})
    snap = engine.state
    assert snap.domain.seq == [np.arange(3)]
    assert snap.domain.seq != [np.arange(4)]
    assert np.arange(3) in snap.domain.seq
    assert snap.domain.seq.count(np.arange(3)) == 1
    assert snap.domain.map == {"k": np.arange(3)}
    assert np.arange(3) in snap.domain.map.values()
    assert ("k", np.arange(3)) in snap.domain.map.items()
    engine.close()


# ---- repr never calls a foreign __repr__ with a committed container ----

REPR_SEEN: list = []


class ReprList(list):
    def __repr__(self):
        REPR_SEEN.append(self)
        return "ReprList"


class ReprDict(dict):
    def __repr__(self):
        REPR_SEEN.append(self)
        return "ReprDict"


class Holder:
    pass


def _by_reference(value):
    """A view over value as a snapshot reads it: stored by reference in an object's attribute."""
    holder = Holder()
    holder.data = value
    state = theus.State({"domain": {"holder": holder}})
    return state, state.snapshot().domain.holder.data


REPRS = [
    ("FrozenList", lambda: _by_reference([ReprList([1]), ReprDict(a=1)])[1], repr),
    ("FrozenList-nested", lambda: _by_reference([[ReprList([1])]])[1], repr),
    ("FrozenList-self", lambda: _by_reference(ReprList([1, 2]))[1], repr),
    ("FrozenDict", lambda: _by_reference({"a": ReprList([1]), "b": ReprDict(x=1)})[1], repr),
    ("FrozenDict-self", lambda: _by_reference(ReprDict(a=[1]))[1], repr),
    ("values()", lambda: _by_reference({"a": ReprList([1])})[1].values(), repr),
    ("items()", lambda: _by_reference({"a": ReprList([1])})[1].items(), repr),
    ("str", lambda: _by_reference({"a": ReprList([1])})[1], str),
    ("ScopedView", lambda: _context({"domain.a": ReprList([1]), "domain.b": ReprDict(x=1)}, 0).domain, repr),
    ("ScopedView-nested", lambda: _context({"domain.u.a": [ReprList([1])]}, 0).domain, repr),
]


@pytest.mark.parametrize("name, make, show", REPRS, ids=[r[0] for r in REPRS])
def test_repr_never_hands_out_the_wrapped_container(name, make, show):
    view = make()
    REPR_SEEN.clear()
    text = show(view)
    assert "1" in text
    assert "ReprList" not in text and "ReprDict" not in text
    assert REPR_SEEN == []


def test_repr_keeps_plain_data_readable():
    d = {"x": 1}
    d["self"] = d
    assert repr(_freeze(d)) == "FrozenDict({'x': 1, 'self': {...}})"
    assert repr(_freeze([1, (2,), [3, {"a": ()}]])) == "FrozenList([1, (2,), [3, {'a': ()}]])"
    assert repr(_freeze((1,))) == "FrozenList((1,))" or repr(_freeze((1,))) == "(1,)"


# ---- private containers are out of the GC's reach ----

LEAVES = [
    ("depth1-tuple", "domain.pair", (1, [2])),
    ("depth2-tuple", "domain.user.pair", (3, [4])),
    ("depth3-tuple", "domain.a.b.pair", (5, [6])),
    ("depth4-tuple", "domain.a.b.c.pair", (7, [8])),
    ("depth1-list", "domain.items", [1, [2]]),
    ("depth3-list", "domain.a.b.items", [3, [4]]),
    ("depth2-dict", "domain.user.prefs", {"k": [1]}),
    ("depth1-frozenset", "domain.tags", frozenset({(1, 2)})),
]


def _nest(path, value):
    root = {}
    node = root
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return root


def _read(ctx, path):
    v = ctx
    for p in path.split("."):
        v = getattr(v, p)
    return v


def _tamper_and_reread(ctx, path):
    """Replace the leaf in every dict gc.get_referrers finds for it, read the leaf again."""
    leaf = _read(ctx, path)
    name = path.rsplit(".", 1)[1]
    parent = _read(ctx, path.rsplit(".", 1)[0])
    before = (len(parent), tuple(parent.keys()))
    changed = []
    for ref in gc.get_referrers(leaf):
        if isinstance(ref, dict) and ref.get(name) is leaf:
            ref[name] = "TAMPERED"
            changed.append(ref)
    again = _read(ctx, path)
    after = (len(parent), tuple(parent.keys()))
    for ref in changed:
        ref[name] = leaf
    return leaf, again, before, after


@pytest.mark.parametrize("case_id, path, value", LEAVES, ids=[c[0] for c in LEAVES])
@pytest.mark.parametrize("reads", [1, 2], ids=["first-read", "cached-read"])
def test_context_private_dicts_are_not_referrers(case_id, path, value, reads):
    engine = TheusEngine({"domain": _nest(path, value)["domain"]})
    seen = {}

    @process(inputs=[path], outputs=[])
    def peek(ctx):
        for _ in range(reads - 1):
            _read(ctx, path)
        seen["result"] = _tamper_and_reread(ctx, path)

    engine.execute(peek)
    leaf, again, before, after = seen["result"]
    assert again is leaf, "changing a dict found by gc.get_referrers changed what the process reads"
    assert before == after
    engine.close()


def test_context_zone_dict_is_not_a_referrer():
    zone_value = frozenset({(1, 2)})  # a zone whose frozen value is itself, a tracked object
    values = {"tuplezone": zone_value, "domain.x": 1}  # the caller's own dict
    ctx = _context(values, 0)
    v = ctx.tuplezone
    assert v is zone_value
    for ref in gc.get_referrers(v):
        if ref is not values:
            assert not (isinstance(ref, dict) and ref.get("tuplezone") is v), "the context's zone dict is reachable"
    for ref in gc.get_referrers(ctx.domain):
        assert not isinstance(ref, dict) or "version" not in ref


def test_outbox_extra_cannot_be_swapped_through_referrers():
    engine = TheusEngine({"domain": {"n": 0}})
    seen = {}

    class Fake:
        def add(self, *a, **k):
            pass

    @process(inputs=["domain.n"], outputs=["domain.n"], semantic="effect")
    def send(ctx):
        box = ctx.outbox
        hits = 0
        for ref in gc.get_referrers(box):
            if isinstance(ref, dict) and ref.get("outbox") is box:
                ref["outbox"] = Fake()
                hits += 1
        seen["same"] = ctx.outbox is box
        seen["hits"] = hits
        seen["referents"] = [type(r).__name__ for r in gc.get_referents(ctx)]
        ctx.outbox.add("topic", {"n": 1})
        return 1

    engine.execute(send)
    assert seen["same"] is True
    assert seen["hits"] == 0
    assert "dict" not in seen["referents"] and "list" not in seen["referents"]
    delivered = []
    assert engine.process_outbox(delivered.append) == 1
    engine.close()


def test_slice_list_is_not_a_referrer():
    big = 10**30 + 7  # a unique object stored in the committed list
    engine = TheusEngine({"domain": {"items": [[1], big, 3, 4]}})
    fl = engine.state.domain["items"]
    part = fl[0:2]
    assert part == [[1], big]
    for ref in gc.get_referrers(big):
        if isinstance(ref, list) and len(ref) == 2 and ref[1] is big:
            ref[0].append(99)
    assert engine.state.domain["items"][0] == [1]
    assert part[0] == [1]
    engine.close()


VIEWS = [
    ("FrozenDict", lambda: _freeze({"a": [1]})),
    ("FrozenList", lambda: _freeze([[1]])),
    ("keys", lambda: _freeze({"a": [1]}).keys()),
    ("values", lambda: _freeze({"a": [1]}).values()),
    ("items", lambda: _freeze({"a": [1]}).items()),
    ("dict-iter", lambda: iter(_freeze({"a": [1]}))),
    ("values-iter", lambda: iter(_freeze({"a": [1]}).values())),
    ("list-iter", lambda: iter(_freeze([[1]]))),
    ("list-reversed", lambda: reversed(_freeze([[1]]))),
    ("slice", lambda: _freeze([[1], [2]])[0:1]),
    ("ScopedView", lambda: _context({"domain.a": [1]}, 0).domain),
    ("ScopedView-nested", lambda: _context({"domain.u.a": [1]}, 0).domain.u),
]


@pytest.mark.parametrize("name, make", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_have_no_referents_and_are_not_tracked(name, make):
    view = make()
    assert gc.get_referents(view) == []
    assert not gc.is_tracked(view)
    assert not any(r is view for r in gc.get_objects())
