"""What each kind of value becomes when read: scalars, sets, buffers, numpy arrays, objects."""

from __future__ import annotations

import array
import ctypes
import copy
import dataclasses
import enum
import fractions
import gc
import pathlib
import pickle
from collections import OrderedDict, defaultdict, namedtuple

import pytest

from proxy_helpers import reaches
from theus._core import FrozenBuffer, FrozenDict, FrozenList, FrozenObject, _freeze
from theus.errors import ContextError

np = pytest.importorskip("numpy")


@pytest.mark.parametrize(
    "value",
    [0, 1, -5, 10**40, 1.5, "s", "", b"b", True, False, None, 1j, frozenset({1}), range(3),
     fractions.Fraction(1, 3), pathlib.PurePosixPath("/x"), int, len, pytest],
    ids=repr,
)
def test_immutable_values_come_back_as_themselves(value):
    assert _freeze(value) is value


def test_containers():
    assert type(_freeze({})) is FrozenDict
    assert type(_freeze(OrderedDict(a=1))) is FrozenDict
    dd = defaultdict(list)
    fd = _freeze(dd)
    with pytest.raises(KeyError):
        fd["missing"]
    assert "missing" not in dd  # __missing__ never ran
    assert type(_freeze([])) is FrozenList
    assert type(_freeze(())) is FrozenList
    s = {1, 2}
    fs = _freeze(s)
    assert type(fs) is frozenset and fs == s
    s.add(3)
    assert 3 not in fs


def test_namedtuple():
    P = namedtuple("P", "x y")
    p = P(1, 2)
    assert _freeze(p) is p
    q = P(1, [2])
    fq = _freeze(q)
    assert type(fq) is P and fq == (1, [2]) and fq.x == 1  # the same type, its items frozen
    assert type(fq.y) is FrozenList
    with pytest.raises(ContextError):
        fq[1].append(3)
    c = copy.deepcopy(fq)
    assert type(c) is P and type(c.y) is list and c == (1, [2])


def test_bytearray_and_memoryview():
    ba = bytearray(b"abc")
    mv = _freeze(ba)
    assert isinstance(mv, memoryview) and mv.readonly and bytes(mv) == b"abc"
    with pytest.raises(TypeError):
        mv[0] = 1
    assert type(mv.obj) is FrozenBuffer
    assert gc.get_referents(mv.obj) == []
    assert not reaches(mv, ba)
    with pytest.raises(TypeError, match="not writable"):
        ctypes.c_char.from_buffer(mv.obj)  # asks for a writable buffer: refused
    assert ctypes.c_char.from_buffer_copy(mv.obj).value == b"a"
    with pytest.raises(ContextError):
        mv.obj.x = 1
    inner = memoryview(ba)
    mv2 = _freeze(inner)
    assert mv2.readonly and mv2.obj is not ba and mv2.obj is not inner
    assert ba == bytearray(b"abc")
    mv2.release()
    inner.release()
    mv.release()
    ba.append(1)  # the export is released: the bytearray can resize again


def test_other_writable_buffers():
    arr = array.array("i", [1, 2, 3])
    mv = _freeze(arr)
    assert isinstance(mv, memoryview) and mv.readonly and mv.tolist() == [1, 2, 3]
    assert not reaches(mv, arr)


def test_numpy_array_is_a_readonly_view_of_the_same_memory():
    a = np.arange(6.0).reshape(2, 3)
    fa = _freeze(a)
    assert isinstance(fa, np.ndarray)
    assert np.shares_memory(fa, a)
    assert fa.dtype == a.dtype and fa.shape == a.shape
    assert not fa.flags.writeable
    with pytest.raises(ValueError):
        fa[0, 0] = 9
    with pytest.raises(ValueError):
        fa.flags.writeable = True
    with pytest.raises(ValueError):
        fa.setflags(write=True)
    base = fa
    while getattr(base, "base", None) is not None:
        assert base is not a
        base = base.base
    assert not reaches(fa, a)
    a[0, 0] = 7  # the owner's writes show through: same memory
    assert fa[0, 0] == 7


@pytest.mark.parametrize("dtype", ["i1", "u2", ">i4", "f4", "c16", "?", "U3", "f2"])
def test_numpy_dtypes_and_strides(dtype):
    a = np.zeros((4, 4), dtype=dtype)
    f = _freeze(a[::2, 1::2])
    assert f.dtype == a.dtype and f.shape == (2, 2) and not f.flags.writeable
    assert np.shares_memory(f, a)


def test_numpy_dtypes_the_buffer_protocol_cannot_carry_are_read_over_the_same_memory():
    """datetime and gapped struct dtypes have no buffer format: their memory is exported as
    byte strings of the same item size and viewed back, read-only; object arrays are copies."""
    gapped = np.dtype({"names": ["a"], "formats": ["<i4"], "offsets": [4], "itemsize": 12})
    for a in (np.array(["2020-01-01"], dtype="datetime64[D]"), np.zeros(3, dtype=gapped)):
        f = _freeze(a)
        assert not f.flags.writeable and f.dtype == a.dtype
        assert np.shares_memory(f, a)
        assert not reaches(f, a)
    a = np.array([[1], "x"], dtype=object)
    f = _freeze(a)
    assert not f.flags.writeable and not np.shares_memory(f, a)
    assert not reaches(f, a)


def test_numpy_values_compare_without_raising():
    a = np.array([1.0, 2.0])
    fd = _freeze({"a": a})
    assert fd == {"a": np.array([1.0, 2.0])}
    assert fd != {"a": np.array([1.0, 3.0])}
    assert fd == {"a": a}
    assert _freeze([a]) == [np.array([1.0, 2.0])]
    assert _freeze([a]).count(np.array([1.0, 2.0])) == 1
    copy_ = fd.to_dict()
    assert copy_["a"] is not a and copy_["a"].flags.writeable
    copy_["a"][0] = 100
    assert a[0] == 1.0


@dataclasses.dataclass
class Order:
    items: list
    total: int = 0
    meta: dict = dataclasses.field(default_factory=dict)

    def count(self):
        return len(self.items)

    def add(self, x):
        self.items.append(x)

    @property
    def first(self):
        return self.items[0]


class Plain:
    kind = "plain"

    def __init__(self):
        self.data = [1, 2]
        self._private = {"k": 1}


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = [1]


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = 1


def test_python_objects_become_frozen_objects():
    o = Order([1, 2], 3, {"m": [1]})
    fo = _freeze(o)
    assert type(fo) is FrozenObject
    assert isinstance(fo, Order) and fo.__class__ is Order
    assert type(fo.items) is FrozenList and fo.items == [1, 2]
    assert fo.total == 3 and type(fo.meta) is FrozenDict
    assert fo.count() == 2
    assert fo.first == 1
    with pytest.raises(ContextError):
        fo.add(3)
    with pytest.raises(ContextError):
        fo.total = 5
    with pytest.raises(ContextError):
        del fo.total
    with pytest.raises(ContextError):
        fo.__dict__
    with pytest.raises(ContextError):
        fo.items.append(1)
    with pytest.raises(ContextError):
        fo.meta["m"].append(1)
    assert fo == Order([1, 2], 3, {"m": [1]})
    assert fo == _freeze(Order([1, 2], 3, {"m": [1]}))
    assert fo != Order([9], 3)
    assert o == Order([1, 2], 3, {"m": [1]})
    assert "items" in dir(fo)
    assert not reaches(fo, o)
    assert gc.get_referents(fo) == []
    bound = fo.count
    assert bound.__self__ is fo


def test_frozen_object_copies_are_independent():
    o = Order([1, 2], 3)
    fo = _freeze(o)
    for clone in (copy.copy(fo), copy.deepcopy(fo), pickle.loads(pickle.dumps(fo))):
        assert type(clone) is Order and clone == o and clone is not o
        clone.items.append(9)
        assert o.items == [1, 2]


def test_plain_and_slotted_objects():
    p = Plain()
    fp = _freeze(p)
    assert type(fp) is FrozenObject
    assert fp.data == [1, 2] and type(fp.data) is FrozenList
    assert fp._private.k == 1
    assert fp.kind == "plain"
    assert hash(fp) == hash(p)
    assert fp == p
    with pytest.raises(AttributeError):
        fp.missing
    s = Slotted()
    fs = _freeze(s)
    assert type(fs) is FrozenObject and type(fs.a) is FrozenList
    with pytest.raises(AttributeError):
        fs.b
    with pytest.raises(ContextError):
        fs.a = 2
    with pytest.raises(AttributeError):
        fs.__weakref__


def test_value_objects_and_c_objects_pass_as_they_are():
    pt = Point(1, 2)
    assert _freeze(pt) is pt
    assert _freeze(Color.RED) is Color.RED
    import threading

    lock = threading.Lock()
    assert _freeze(lock) is lock  # a C extension instance: passed by reference


def test_frozen_object_repr():
    # the class's __repr__ runs with the view as self, so its fields print as views
    assert repr(_freeze(Order([1]))) == "FrozenObject(Order(items=FrozenList([1]), total=0, meta=FrozenDict({})))"


def test_exception_instances_expose_data_not_internals():
    class MyError(Exception):
        pass

    err = MyError("k", [1])
    fe = _freeze(err)
    assert type(fe) is FrozenObject and isinstance(fe, MyError)
    assert fe.args == ("k", [1]) and type(fe.args) is FrozenList
    with pytest.raises(ContextError):
        fe.args[1].append(2)
    with pytest.raises(AttributeError):
        fe.__weakref__
    assert err.args == ("k", [1])
