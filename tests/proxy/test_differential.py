"""FrozenDict against types.MappingProxyType and FrozenList against tuple, read for read."""

from __future__ import annotations

import collections.abc
import types

import pytest

from theus._core import FrozenDict, FrozenList, _freeze

DICTS = [
    {},
    {"a": 1},
    {"a": 1, "b": "two", "c": 3.5, "d": None, "e": True},
    {"nested": {"x": [1, 2, {"y": 3}]}, "t": (1, 2), 5: "int key", (1, 2): "tuple key"},
]

SEQS = [
    [],
    [1],
    [1, 2, 3, 2, 1],
    [1, "a", 2.5, None, [1, 2], {"k": 1}, (3, 4)],
    list(range(20)),
]


@pytest.fixture(params=range(len(DICTS)), ids=lambda i: f"dict{i}")
def pair(request):
    data = DICTS[request.param]
    return _freeze(data), types.MappingProxyType(data), data


@pytest.fixture(params=range(len(SEQS)), ids=lambda i: f"seq{i}")
def seq_pair(request):
    data = SEQS[request.param]
    return _freeze(data), tuple(data), data


class TestMappingDifferential:
    def test_types(self, pair):
        fd, mp, _ = pair
        assert type(fd) is FrozenDict
        assert isinstance(fd, collections.abc.Mapping)
        assert isinstance(mp, collections.abc.Mapping)

    def test_len_bool(self, pair):
        fd, mp, _ = pair
        assert len(fd) == len(mp)
        assert bool(fd) == bool(mp)

    def test_iter_and_reversed(self, pair):
        fd, mp, _ = pair
        assert list(fd) == list(mp)
        assert list(reversed(fd)) == list(reversed(mp))

    def test_getitem_and_get(self, pair):
        fd, mp, _ = pair
        for k in mp:
            assert fd[k] == mp[k]
            assert fd.get(k) == mp.get(k)
        sentinel = object()
        assert fd.get("__missing__", sentinel) is mp.get("__missing__", sentinel)
        assert fd.get("__missing__") is None
        with pytest.raises(KeyError):
            mp["__missing__"]
        with pytest.raises(KeyError):
            fd["__missing__"]

    def test_tuple_key_error_is_not_unpacked(self):
        fd = _freeze({})
        with pytest.raises(KeyError) as info:
            fd[(1, 2)]
        assert info.value.args == ((1, 2),)

    def test_contains(self, pair):
        fd, mp, _ = pair
        for k in list(mp) + ["__missing__", 12345]:
            assert (k in fd) == (k in mp)

    def test_keys_values_items(self, pair):
        fd, mp, _ = pair
        assert list(fd.keys()) == list(mp.keys())
        assert list(fd.values()) == list(mp.values())
        assert list(fd.items()) == list(mp.items())
        assert len(fd.keys()) == len(mp.keys())
        assert len(fd.values()) == len(mp.values())
        assert len(fd.items()) == len(mp.items())
        assert isinstance(fd.keys(), collections.abc.KeysView)
        assert isinstance(fd.values(), collections.abc.ValuesView)
        assert isinstance(fd.items(), collections.abc.ItemsView)
        assert list(reversed(fd.keys())) == list(reversed(mp.keys()))
        assert list(reversed(fd.values())) == list(reversed(mp.values()))

    def test_view_membership(self, pair):
        fd, mp, _ = pair
        for k, v in mp.items():
            assert k in fd.keys()
            assert v in fd.values()
            assert (k, v) in fd.items()
        assert ("__missing__", 1) not in fd.items()
        assert "__missing__" not in fd.keys()

    def test_keys_set_operations(self, pair):
        fd, mp, _ = pair
        other = {"a", "zzz", 5}
        assert fd.keys() & other == mp.keys() & other
        assert fd.keys() | other == mp.keys() | other
        assert fd.keys() - other == mp.keys() - other
        assert fd.keys() ^ other == mp.keys() ^ other
        assert other & fd.keys() == other & mp.keys()
        assert (fd.keys() == set(mp)) is True
        assert fd.keys().isdisjoint(other) == mp.keys().isdisjoint(other)

    def test_equality(self, pair):
        fd, mp, data = pair
        assert (fd == data) == (mp == data) == True  # noqa: E712
        assert (fd != data) == (mp != data) == False  # noqa: E712
        assert fd == _freeze(dict(data))
        changed = dict(data, extra=1)
        assert (fd == changed) == (mp == changed)
        assert fd != changed
        assert (fd == 1) == (mp == 1)

    def test_or(self, pair):
        fd, mp, data = pair
        other = {"a": "override", "new": 1}
        expected = mp | other
        got = fd | other
        assert type(got) is dict
        assert got == expected
        assert other | fd == other | mp
        assert type(other | fd) is dict

    def test_dict_constructor_and_unpacking(self, pair):
        fd, mp, data = pair
        assert dict(fd) == dict(mp)
        assert {**fd} == {**mp}


class TestSequenceDifferential:
    def test_types(self, seq_pair):
        fl, t, _ = seq_pair
        assert type(fl) is FrozenList
        assert isinstance(fl, collections.abc.Sequence)

    def test_len_iter_reversed(self, seq_pair):
        fl, t, _ = seq_pair
        assert len(fl) == len(t)
        assert bool(fl) == bool(t)
        assert list(fl) == list(t)
        assert list(reversed(fl)) == list(reversed(t))

    def test_indexing(self, seq_pair):
        fl, t, _ = seq_pair
        for i in range(-len(t), len(t)):
            assert fl[i] == t[i]
        for bad in (len(t), -len(t) - 1, 10**30):
            with pytest.raises(IndexError):
                t[bad]
            with pytest.raises(IndexError):
                fl[bad]
        with pytest.raises(TypeError):
            fl["x"]
        if len(t) > 1:
            assert fl[True] == t[True]

    @pytest.mark.parametrize(
        "sl",
        [slice(None), slice(1, 3), slice(-3, None), slice(None, None, -1), slice(None, None, 2),
         slice(5, 1, -2), slice(100, 200), slice(-100, 2)],
        ids=repr,
    )
    def test_slicing(self, seq_pair, sl):
        fl, t, _ = seq_pair
        got = fl[sl]
        assert type(got) is FrozenList
        assert got == t[sl]
        assert len(got) == len(t[sl])

    def test_index_count_contains(self, seq_pair):
        fl, t, _ = seq_pair
        for v in list(t) + ["absent"]:
            assert fl.count(v) == t.count(v)
            assert (v in fl) == (v in t)
            if v in t:
                assert fl.index(v) == t.index(v)
                assert fl.index(v, 0, len(t)) == t.index(v, 0, len(t))
            else:
                with pytest.raises(ValueError):
                    fl.index(v)
        if len(t) > 2:
            v = t[-1]
            assert fl.index(v, -1) == t.index(v, -1)
            with pytest.raises(ValueError):
                t.index(t[0], 1, 1)
            with pytest.raises(ValueError):
                fl.index(t[0], 1, 1)

    def test_equality_and_ordering(self, seq_pair):
        fl, t, data = seq_pair
        assert fl == t
        assert fl == data
        assert fl == _freeze(list(data))
        assert not (fl != t)
        bigger = t + (10**9,)
        assert (fl < bigger) == (t < bigger)
        assert (fl <= bigger) == (t <= bigger)
        assert (fl > bigger) == (t > bigger)
        assert (fl >= t) == (t >= t)
        if t and all(isinstance(x, int) for x in t):
            smaller = (t[0] - 1,)
            assert (fl > smaller) == (t > smaller)
            assert (fl < smaller) == (t < smaller)
        assert fl != t + (1,)
        assert (fl == 1) is False

    def test_hash(self, seq_pair):
        fl, t, _ = seq_pair
        try:
            expected = hash(tuple(_freeze(x) for x in t))
        except TypeError:
            with pytest.raises(TypeError):
                hash(fl)
        else:
            assert hash(fl) == expected
            if all(isinstance(x, (int, str, float, type(None))) for x in t):
                assert hash(fl) == hash(t)

    def test_concat_and_repeat(self, seq_pair):
        fl, t, data = seq_pair
        assert fl + [9] == list(t + (9,))
        assert type(fl + (9,)) is list
        assert fl + fl == list(t + t)
        assert fl * 2 == list(t * 2)
        assert 3 * fl == list(3 * t)
        assert type(fl * 0) is list
        with pytest.raises(TypeError):
            fl + 1


def test_structural_pattern_matching_and_generic_alias():
    match _freeze({"kind": "order", "lines": [1, 2]}):
        case {"kind": "order", "lines": [first, *rest]}:
            matched = (first, rest)
        case _:
            matched = None
    assert matched == (1, [2])
    match _freeze([1, (2, 3)]):
        case [a, (b, c)]:
            got = a + b + c
        case _:
            got = None
    assert got == 6
    assert FrozenDict[str, int].__origin__ is FrozenDict
    assert FrozenList[int].__args__ == (int,)
