"""What goes in comes back with the same type and meaning, frozen, or is refused at commit with
an error naming the path and the type. One table of values, each committed through every
entry point at depths 1 to 4, read back, written to (must fail), copied out (to_dict) and
compared with what went in."""

from __future__ import annotations

import array
import asyncio
import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import types
import uuid

import pytest

from theus import ArgumentError, ContextError, TheusEngine, process
from theus._core import FrozenDict, FrozenList, FrozenObject, _kind
from theus.state import State

np = pytest.importorskip("numpy")

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix

P = collections.namedtuple("P", "x y")


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Tagged(np.ndarray):
    """An attribute-free ndarray subclass."""


class Ident:
    """An instance of a plain class: identity semantics, mutable attributes."""


def _struct_dtype():
    return np.dtype({"names": ["a", "b"], "formats": ["i4", "f8"], "offsets": [4, 16], "itemsize": 32})


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and bool(np.all(a == b))
    return a == b


# name -> (make, read check, thawed type or None for "same as input")
KEPT = {
    "namedtuple_mutable": (lambda: P(1, [2]),
                           lambda r: type(r) is P and r.x == 1 and type(r.y) is FrozenList and r == (1, [2]), P),
    "namedtuple_scalars": (lambda: P(1, "a"), lambda r: type(r) is P and r.y == "a", P),
    "array_array": (lambda: array.array("i", [1, 2, 3]),
                    lambda r: isinstance(r, memoryview) and r.readonly and r.tolist() == [1, 2, 3], array.array),
    "bytearray": (lambda: bytearray(b"ab"), lambda r: isinstance(r, memoryview) and r.readonly and bytes(r) == b"ab",
                  bytearray),
    "simplenamespace": (lambda: types.SimpleNamespace(a=[1], b=2),
                        lambda r: type(r) is FrozenObject and isinstance(r, types.SimpleNamespace)
                        and type(r.a) is FrozenList and r.b == 2, types.SimpleNamespace),
    "object_array_scalars": (lambda: np.array([1, "x", None], dtype=object),
                             lambda r: type(r) is np.ndarray and not r.flags.writeable and list(r) == [1, "x", None],
                             np.ndarray),
    "matrix": (lambda: np.matrix([[1, 2], [3, 4]]),
               lambda r: type(r) is np.matrix and not r.flags.writeable
               and (r * r).tolist() == [[7, 10], [15, 22]], np.matrix),
    "recarray": (lambda: np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
                 lambda r: type(r) is np.recarray and r.a[0] == 1 and not r.flags.writeable, np.recarray),
    "subclass": (lambda: np.arange(3).view(Tagged), lambda r: type(r) is Tagged and not r.flags.writeable, Tagged),
    "structured_offsets": (lambda: np.zeros(2, dtype=_struct_dtype()),
                           lambda r: r.dtype == _struct_dtype() and not r.flags.writeable, np.ndarray),
    "structured_titles": (lambda: np.zeros(2, dtype=[(("title", "a"), "i4")]),
                          lambda r: r.dtype == np.dtype([(("title", "a"), "i4")]) and r["title"][0] == 0, np.ndarray),
    "plain_array": (lambda: np.arange(6.0).reshape(2, 3),
                    lambda r: type(r) is np.ndarray and not r.flags.writeable and r.shape == (2, 3), np.ndarray),
    "set": (lambda: {1, 2}, lambda r: type(r) is frozenset and r == {1, 2}, frozenset),
    "frozenset_of_tuples": (lambda: frozenset({(1, 2)}), lambda r: r == frozenset({(1, 2)}), frozenset),
    "fraction": (lambda: fractions.Fraction(1, 3), lambda r: r + 1 == fractions.Fraction(4, 3), fractions.Fraction),
    "decimal": (lambda: decimal.Decimal("1.5"), lambda r: r * 2 == 3, decimal.Decimal),
    "datetime": (lambda: datetime.datetime(2020, 1, 2), lambda r: r.year == 2020, datetime.datetime),
    "uuid": (lambda: uuid.UUID(int=7), lambda r: r.int == 7, uuid.UUID),
    "purepath": (lambda: pathlib.PurePosixPath("/a"), lambda r: str(r / "b") == "/a/b", pathlib.PurePosixPath),
    "enum": (lambda: Color.RED, lambda r: r is Color.RED, Color),
    "frozen_dataclass": (lambda: Point(1, 2), lambda r: type(r) is Point and r.x == 1, Point),
    "complex": (lambda: 1 + 2j, lambda r: r == 1 + 2j, complex),
    "bytes": (lambda: b"x", lambda r: r == b"x", bytes),
    "range": (lambda: range(3), lambda r: list(r) == [0, 1, 2], range),
    "tuple_mixed": (lambda: (1, [2], {"k": 3}), lambda r: type(r) is FrozenList and r == [1, [2], {"k": 3}], tuple),
    "counter": (lambda: {1: collections.Counter(a=2)}, lambda r: type(r[1]) is FrozenDict and r[1]["a"] == 2, dict),
    "ordereddict": (lambda: {1: collections.OrderedDict(b=1, a=2)}, lambda r: list(r[1]) == ["b", "a"], dict),
}

# name -> (make, fragment of the ArgumentError; the type is named too)
REFUSED = {
    "deque": (lambda: collections.deque([1]), "cannot store a collections.deque (it is mutable"),
    "deque_subclass": (lambda: type("Q", (collections.deque,), {})([1]), "cannot store a"),
    "masked_array": (lambda: np.ma.array([1, 2], mask=[0, 1]), "MaskedArray (its mask would be lost"),
    "object_array_of_lists": (lambda: np.array([[1], [2, 3]], dtype=object), "numpy object array"),
    "object_array_of_dicts": (lambda: np.array([{"a": 1}], dtype=object), "numpy object array"),
    "generator": (lambda: (i for i in range(3)), "cannot store a generator"),
    "nested_deque": (lambda: [1, {"k": (collections.deque(),)}], "collections.deque"),
}


def _nest(value, depth):
    for i in range(depth - 1):
        value = [value] if i % 2 == 0 else {"k": value}
    return value


def _unnest(read, depth):
    for i in range(depth - 1):
        read = read[0] if (depth - 2 - i) % 2 == 0 else read["k"]
    return read


def _commit(entry, value):
    if entry == "State":
        st = State({"domain": {"v": value}})
        return st.get("domain.v"), lambda: st.snapshot().to_dict()["domain"]["v"]
    if entry == "update":
        st = State({"domain": {"v": 0}})
        st.update({"domain.v": value})
        return st.get("domain.v"), lambda: st.snapshot().to_dict()["domain"]["v"]
    eng = TheusEngine({"domain": {"v": 0}})

    @process(inputs=["domain.v"], outputs=["domain.v"])
    def put(ctx):
        return value

    eng.execute(put)
    return eng.state.domain.v, lambda: eng.state.to_dict()["domain"]["v"]


ENTRIES = ["State", "update", "process"]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("name", sorted(KEPT))
def test_values_come_back_with_their_type_and_meaning(name, entry, depth):
    make, check, thawed = KEPT[name]
    original = make()
    read, thaw = _commit(entry, _nest(original, depth))
    got = _unnest(read, depth)
    assert check(got), repr(got)
    out = _unnest(thaw(), depth)
    assert isinstance(out, thawed), type(out)
    if thawed not in (FrozenList,) and not isinstance(original, (memoryview,)):
        if isinstance(original, array.array):
            assert out.tolist() == original.tolist()
        elif isinstance(original, types.SimpleNamespace):
            assert vars(out) == vars(original) and type(out.a) is list
        elif not isinstance(original, dict):
            assert _same(out, original)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("name", ["array_array", "bytearray", "plain_array", "matrix", "set", "namedtuple_mutable",
                                  "tuple_mixed", "object_array_scalars"])
def test_the_writer_cannot_change_what_it_committed(name, entry):
    make, _, _ = KEPT[name]
    original = make()
    read, thaw = _commit(entry, original)
    before = thaw()
    if isinstance(original, array.array):
        original.append(9)
        original[0] = 5
    elif isinstance(original, bytearray):
        original[0] = 0
    elif isinstance(original, np.ndarray):
        original.flat[0] = 0 if original.dtype != object else "changed"
    elif isinstance(original, set):
        original.add(99)
    else:
        original[1].append(99)
    assert _same(thaw(), before) if isinstance(before, np.ndarray) else thaw() == before


@pytest.mark.parametrize("name", ["array_array", "bytearray", "plain_array", "matrix", "recarray", "subclass",
                                  "namedtuple_mutable", "simplenamespace", "structured_offsets", "tuple_mixed"])
def test_values_read_back_are_frozen(name):
    read, _ = _commit("State", KEPT[name][0]())
    if isinstance(read, memoryview):
        with pytest.raises(TypeError):
            read[0] = 1
    elif isinstance(read, np.ndarray):
        with pytest.raises(ValueError):
            read.flat[0] = 1
        with pytest.raises(ValueError):
            read.setflags(write=True)
    elif type(read) is P:
        with pytest.raises(ContextError):
            read.y.append(1)
    elif type(read) is FrozenObject:
        with pytest.raises(ContextError):
            read.b = 5
        with pytest.raises(ContextError):
            read.a.append(5)
    else:
        with pytest.raises(ContextError):
            read[1].append(5)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("entry", ["State", "TheusEngine", "update", "cas", "process"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unstorable_values_are_refused_naming_path_and_type(name, entry, depth):
    make, fragment = REFUSED[name]
    value = _nest(make(), depth)
    st = State({"domain": {"v": 0}})
    eng = TheusEngine({"domain": {"v": 0}})

    @process(inputs=["domain.v"], outputs=["domain.v"])
    def put(ctx):
        return value

    run = {
        "State": lambda: State({"domain": {"v": value}}),
        "TheusEngine": lambda: TheusEngine({"domain": {"v": value}}),
        "update": lambda: st.update({"domain.v": value}),
        "cas": lambda: st.compare_and_swap(0, {"domain.v": value}),
        "process": lambda: eng.execute(put),
    }[entry]
    with pytest.raises(ArgumentError) as info:
        run()
    msg = str(info.value)
    assert fragment in msg
    assert msg.startswith("domain.v"), msg
    assert st.version == 0 and eng.state.version == 0


def test_a_coroutine_is_refused_with_a_hint_to_await_it():
    async def f():
        return 1

    coro = f()
    try:
        with pytest.raises(ArgumentError, match=r"domain\.c: cannot store a coroutine .*await it"):
            State({"domain": {"c": coro}})
    finally:
        coro.close()
    assert asyncio.run(f()) == 1


def test_memmap_is_refused(tmp_path):
    m = np.memmap(tmp_path / "m.bin", dtype="i4", mode="w+", shape=(3,))
    with pytest.raises(ArgumentError, match="memory-mapped"):
        State({"domain": {"m": m}})
    del m


def test_memoryview_is_stored_as_bytes():
    st = State({"domain": {"m": memoryview(b"abc")}})
    assert st.get("domain.m") == b"abc" and type(st.get("domain.m")) is bytes


KINDS = [
    (1, "scalar"), ("s", "scalar"), (None, "scalar"), ((1, "a"), "scalar"), (frozenset({1}), "scalar"),
    (P(1, 2), "scalar"), (Color.RED, "scalar"), (Point(1, 2), "scalar"), (fractions.Fraction(1, 2), "scalar"),
    (len, "scalar"), (int, "scalar"), (range(2), "scalar"),
    (decimal.Decimal(1), "opaque"), (datetime.date(2020, 1, 1), "opaque"),
    ({}, "dict"), (collections.OrderedDict(), "dict"), (collections.Counter(), "dict"),
    ([], "list"), ((1, []), "tuple"), (P(1, []), "namedtuple"), ({1}, "set"), (frozenset({Tagged}), "scalar"), (frozenset({Ident()}), "set"),
    (np.zeros(1), "buffer"), (bytearray(), "buffer"), (memoryview(b""), "buffer"), (array.array("b"), "buffer"),
    (Tagged([1]), "buffer"),
    (types.SimpleNamespace(), "object"), (dataclasses.make_dataclass("D", ["a"])(1), "object"),
    (collections.deque(), "refused"), (np.ma.array([1]), "refused"), (np.array([[1], [2, 3]], dtype=object), "refused"),
]


@pytest.mark.parametrize("value,kind", KINDS, ids=[f"{type(v).__name__}-{k}" for v, k in KINDS])
def test_one_classifier_names_every_kind(value, kind):
    assert _kind(value) == kind


def test_views_are_their_own_kind():
    st = State({"domain": {"d": {"a": 1}, "l": [1]}})
    assert _kind(st.get("domain.d")) == "view"
    assert _kind(st.get("domain.l")) == "view"
    assert _kind(st.get("domain.d").keys()) == "view"
