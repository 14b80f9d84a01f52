"""Hostile keys and values, cyclic data and very deep nesting: errors propagate, no crash."""

from __future__ import annotations

import pytest

from theus._core import FrozenDict, FrozenList, _freeze


class Boom(Exception):
    pass


class BadHash:
    def __hash__(self):
        raise Boom("hash")


class BadEq:
    def __hash__(self):
        return 1

    def __eq__(self, other):
        raise Boom("eq")


class BadRepr:
    __hash__ = object.__hash__

    def __repr__(self):
        raise Boom("repr")


def test_key_whose_hash_raises():
    fd = _freeze({"a": 1})
    with pytest.raises(Boom):
        fd[BadHash()]
    with pytest.raises(Boom):
        fd.get(BadHash())
    with pytest.raises(Boom):
        BadHash() in fd
    with pytest.raises(Boom):
        BadHash() in fd.keys()


def test_key_whose_eq_raises():
    a, b = BadEq(), BadEq()
    fd = _freeze({a: 1})
    assert fd[a] == 1  # identity wins before __eq__
    with pytest.raises(Boom):
        fd[b]
    with pytest.raises(Boom):
        fd == {b: 1}


def test_value_whose_eq_raises():
    fl = _freeze([BadEq()])
    with pytest.raises(Boom):
        fl == [BadEq()]
    with pytest.raises(Boom):
        fl.index(BadEq())
    with pytest.raises(Boom):
        fl.count(BadEq())
    with pytest.raises(Boom):
        BadEq() in fl
    fd = _freeze({"k": BadEq()})
    with pytest.raises(Boom):
        fd == {"k": BadEq()}
    with pytest.raises(Boom):
        BadEq() in fd.values()


def test_value_whose_repr_raises():
    with pytest.raises(Boom):
        repr(_freeze({"k": BadRepr()}))
    with pytest.raises(Boom):
        repr(_freeze([BadRepr()]))
    assert repr(_freeze({"k": 1})) == "FrozenDict({'k': 1})"
    assert repr(_freeze([1, (2,)])) == "FrozenList([1, (2,)])"


def test_hash_of_unhashable_values_raises_typeerror():
    class Unhashable:
        __hash__ = None

    with pytest.raises(TypeError):
        hash(_freeze({"k": Unhashable()}))
    assert isinstance(hash(_freeze({"k": BadEq(), "s": {1}})), int)
    with pytest.raises(Boom):
        hash(_freeze([BadHash()]))
    assert hash(_freeze({"a": [1, 2], "b": {"c": (3,)}})) == hash(_freeze({"b": {"c": (3,)}, "a": [1, 2]}))


def test_foreign_eq_never_sees_the_wrapped_list():
    inner = [1, 2]
    seen = []

    class Spy:
        def __eq__(self, other):
            seen.append(other)
            return NotImplemented

        __hash__ = None

    fd = _freeze({"k": inner})
    assert (fd == {"k": Spy()}) is False
    fl = _freeze([inner])
    assert (fl == [Spy()]) is False
    assert Spy() not in fl
    assert seen and all(x is not inner for x in seen)
    assert all(type(x) is FrozenList for x in seen)


def test_cyclic_list():
    a = [1]
    a.append(a)
    fl = _freeze(a)
    assert repr(fl) == "FrozenList([1, [...]])"
    assert fl[1][1][1][0] == 1
    assert fl == a
    copy = fl.to_list()
    assert copy[1] is copy
    assert copy[0] == 1 and copy is not a
    b = [1]
    b.append(b)
    with pytest.raises(RecursionError):
        fl == b
    with pytest.raises(RecursionError):
        hash(fl)


def test_cyclic_dict_and_tuple():
    d = {"x": 1}
    d["self"] = d
    lst = []
    t = (lst,)
    lst.append(t)
    d["t"] = t
    fd = _freeze(d)
    assert repr(fd) == "FrozenDict({'x': 1, 'self': {...}, 't': ([(...)],)})"
    assert fd.self.self.x == 1
    assert fd == d
    c = fd.to_dict()
    assert c["self"] is c
    assert c["t"][0][0] is c["t"]
    assert c["t"] is not t


def test_deep_nesting_10000_levels():
    d = leaf = {}
    for _ in range(10_000):
        leaf["n"] = {}
        leaf = leaf["n"]
    leaf["end"] = True
    fd = _freeze(d)
    v = fd
    for _ in range(10_000):
        v = v.n
    assert v.end is True
    with pytest.raises(RecursionError):
        fd.to_dict()
    with pytest.raises(RecursionError):
        repr(fd)
    with pytest.raises(RecursionError):
        hash(fd)
    other = leaf2 = {}
    for _ in range(10_000):
        leaf2["n"] = {}
        leaf2 = leaf2["n"]
    with pytest.raises(RecursionError):
        fd == other
    lst = inner = []
    for _ in range(10_000):
        inner.append([])
        inner = inner[0]
    fl = _freeze(lst)
    with pytest.raises(RecursionError):
        fl.to_list()
    other_list = inner = []
    for _ in range(10_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(RecursionError):
        fl == other_list
    with pytest.raises(RecursionError):
        fl < other_list
    assert fl == lst  # the same object: equal without recursing


def test_non_str_attribute_names_and_weird_keys():
    fd = _freeze({1: "one", None: "none", (1, 2): "pair", "": "empty"})
    assert fd[1] == "one" and fd[None] == "none" and fd[(1, 2)] == "pair" and fd[""] == "empty"
    assert fd.get("") == "empty"
    with pytest.raises(AttributeError):
        fd.missing
    assert not hasattr(fd, "missing")
    assert hasattr(fd, "keys")


def test_methods_win_over_keys_and_items_are_reachable_by_subscript():
    fd = _freeze({"items": [1], "keys": 2, "get": 3, "global": 4, "class": 5})
    assert callable(fd.items) and fd["items"] == [1]
    assert fd["keys"] == 2 and fd["get"] == 3
    assert fd.global_ == 4 and fd.class_ == 5
    assert isinstance(fd, FrozenDict)
