"""Every write and every unmasking route, at nesting depth 1 to 4, also from 4 threads."""

from __future__ import annotations

import copy
import gc
import pickle
import threading

import pytest

from proxy_helpers import nested, reaches, walk
from theus._core import FrozenDict, FrozenList, _freeze
from theus.errors import ContextError, TheusError

FIX = "return the new value from the process and declare its path in outputs"


def _ior(v):
    v |= {"y": 1}


def _iadd(v):
    v += [1]


def _imul(v):
    v *= 2


DICT_WRITES = {
    "setitem": (lambda v: v.__setitem__("x", 2), ContextError),
    "setitem_syntax": (lambda v: exec("v['x'] = 2", {"v": v}), ContextError),
    "setitem_new": (lambda v: exec("v['new'] = 2", {"v": v}), ContextError),
    "delitem": (lambda v: exec("del v['x']", {"v": v}), ContextError),
    "setattr": (lambda v: setattr(v, "x", 2), ContextError),
    "setattr_new": (lambda v: setattr(v, "new", 2), ContextError),
    "delattr": (lambda v: delattr(v, "x"), ContextError),
    "update": (lambda v: v.update({"x": 2}), ContextError),
    "setdefault": (lambda v: v.setdefault("y", 1), ContextError),
    "pop": (lambda v: v.pop("x"), ContextError),
    "popitem": (lambda v: v.popitem(), ContextError),
    "clear": (lambda v: v.clear(), ContextError),
    "ior": (_ior, ContextError),
    "class_assign": (lambda v: setattr(v, "__class__", dict), ContextError),
    "dunder_dict": (lambda v: v.__dict__, ContextError),
    "vars": (lambda v: vars(v), TypeError),
    "object_setattr": (lambda v: object.__setattr__(v, "x", 2), TypeError),
    "object_setattr_class": (lambda v: object.__setattr__(v, "__class__", dict), TypeError),
    "dict_setitem": (lambda v: dict.__setitem__(v, "x", 2), TypeError),
    "dict_update": (lambda v: dict.update(v, {"x": 2}), TypeError),
    "dict_clear": (lambda v: dict.clear(v), TypeError),
    "type_setattr": (lambda v: setattr(type(v), "x", 2), TypeError),
}

LIST_WRITES = {
    "setitem": (lambda v: exec("v[0] = 9", {"v": v}), ContextError),
    "setslice": (lambda v: exec("v[0:1] = []", {"v": v}), ContextError),
    "delitem": (lambda v: exec("del v[0]", {"v": v}), ContextError),
    "append": (lambda v: v.append(1), ContextError),
    "extend": (lambda v: v.extend([1]), ContextError),
    "insert": (lambda v: v.insert(0, 1), ContextError),
    "pop": (lambda v: v.pop(), ContextError),
    "remove": (lambda v: v.remove(1), ContextError),
    "clear": (lambda v: v.clear(), ContextError),
    "sort": (lambda v: v.sort(), ContextError),
    "reverse": (lambda v: v.reverse(), ContextError),
    "add": (lambda v: v.add(1), ContextError),
    "discard": (lambda v: v.discard(1), ContextError),
    "iadd": (_iadd, ContextError),
    "imul": (_imul, ContextError),
    "setattr": (lambda v: setattr(v, "x", 1), ContextError),
    "class_assign": (lambda v: setattr(v, "__class__", list), ContextError),
    "dunder_dict": (lambda v: v.__dict__, ContextError),
    "object_setattr": (lambda v: object.__setattr__(v, "x", 1), TypeError),
    "list_append": (lambda v: list.append(v, 1), TypeError),
    "list_setitem": (lambda v: list.__setitem__(v, 0, 1), TypeError),
}

DEPTHS = [1, 2, 3, 4]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("name", sorted(DICT_WRITES))
def test_dict_writes_raise(depth, name):
    root, path, leaf = nested(depth)
    before = copy.deepcopy(root)
    view = walk(_freeze(root), path)
    assert type(view) is FrozenDict and view == leaf
    write, exc = DICT_WRITES[name]
    with pytest.raises(exc) as info:
        write(view)
    if exc is ContextError:
        assert isinstance(info.value, (TheusError, AttributeError, TypeError))
        assert FIX in str(info.value)
    assert root == before
    assert view["x"] == 1


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("name", sorted(LIST_WRITES))
@pytest.mark.parametrize("key", ["l", "t"])
def test_list_writes_raise(depth, name, key):
    root, path, leaf = nested(depth)
    before = copy.deepcopy(root)
    view = walk(_freeze(root), path + [key])
    assert type(view) is FrozenList
    write, exc = LIST_WRITES[name]
    with pytest.raises(exc) as info:
        write(view)
    if exc is ContextError:
        assert FIX in str(info.value)
    assert root == before


@pytest.mark.parametrize("depth", DEPTHS)
def test_inner_values_are_frozen(depth):
    root, path, leaf = nested(depth)
    view = walk(_freeze(root), path)
    assert type(view["l"]) is FrozenList
    assert type(view["l"][2]) is FrozenList
    assert type(view["t"][1]) is FrozenList
    assert type(view["s"]) is frozenset
    with pytest.raises(AttributeError):
        view["s"].add(3)
    with pytest.raises(ContextError):
        view["t"][1].append(3)
    assert leaf["t"][1] == [2] and leaf["s"] == {1, 2}


def _views(depth):
    root, path, leaf = nested(depth)
    top = _freeze(root)
    dview = walk(top, path)
    return root, leaf, [(dview, leaf), (dview["l"], leaf["l"]), (dview["t"], leaf["t"])]


@pytest.mark.parametrize("depth", DEPTHS)
def test_gc_referents_reveal_nothing(depth):
    root, leaf, pairs = _views(depth)
    for view, raw in pairs:
        assert gc.get_referents(view) == []
        assert gc.get_referents(iter(view)) == []
        assert gc.get_referents(reversed(view)) == [] or not reaches(reversed(view), raw)
        assert not reaches(view, raw)
    dview = pairs[0][0]
    for v in (dview.keys(), dview.values(), dview.items()):
        assert gc.get_referents(v) == []
        assert gc.get_referents(iter(v)) == []
        assert not hasattr(v, "mapping")


@pytest.mark.parametrize("depth", DEPTHS)
def test_no_attribute_or_method_returns_the_wrapped_object(depth):
    root, leaf, pairs = _views(depth)
    zero_arg = ["keys", "values", "items", "to_dict", "to_list", "copy", "__copy__", "__reduce__",
                "__iter__", "__reversed__", "__repr__", "__str__", "__hash__", "__sizeof__",
                "__getstate__", "__dir__"]
    for view, raw in pairs:
        for name in dir(view):
            try:
                value = getattr(view, name)
            except (AttributeError, TypeError):
                continue
            assert value is not raw
            if not callable(value):
                assert not reaches(value, raw)
        for name in zero_arg:
            method = getattr(view, name, None)
            if method is None:
                continue
            try:
                result = method()
            except TypeError:
                continue
            assert result is not raw
            assert not reaches(result, raw), name
        result = view.__reduce_ex__(2)
        assert not reaches(result, raw)
        assert not reaches(view.__deepcopy__({}), raw)


@pytest.mark.parametrize("depth", DEPTHS)
def test_copy_deepcopy_pickle_give_independent_plain_data(depth):
    root, leaf, pairs = _views(depth)
    for view, raw in pairs:
        expected_type = dict if isinstance(raw, dict) else list
        for clone in (copy.copy(view), copy.deepcopy(view), pickle.loads(pickle.dumps(view)),
                      pickle.loads(pickle.dumps(view, protocol=0))):
            assert type(clone) is expected_type
            assert clone == (raw if isinstance(raw, dict) else list(raw))
            assert not reaches(clone, raw)
        plain = view.to_dict() if isinstance(raw, dict) else view.to_list()
        if isinstance(plain, dict):
            assert type(plain["t"]) is tuple and type(plain["t"][1]) is list
            assert type(plain["s"]) is set
            plain["l"].append(99)
            plain["x"] = 42
            assert leaf["l"] == [1, 2, [3]] and leaf["x"] == 1
        else:
            plain.append(99)
            assert 99 not in raw


def test_views_are_final_and_not_instantiable():
    for cls in (FrozenDict, FrozenList):
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            cls.__new__(cls)
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})
    with pytest.raises(TypeError):
        type(_freeze({}).keys())()
    with pytest.raises(TypeError):
        type(iter(_freeze([])))()


def test_deepcopy_shares_structure_within_one_copy():
    shared = [1, 2]
    view = _freeze({"a": shared, "b": shared})
    clone = copy.deepcopy(view)
    assert clone["a"] is clone["b"]
    assert clone["a"] is not shared
    both = copy.deepcopy([view, view])
    assert both[0] is both[1]


def test_writes_from_four_threads():
    roots = [nested(d) for d in DEPTHS]
    before = copy.deepcopy([r for r, _, _ in roots])
    views = [walk(_freeze(r), p) for r, p, _ in roots]
    failures = []
    barrier = threading.Barrier(4)

    def attack():
        barrier.wait()
        for _ in range(50):
            for view in views:
                for write, exc in DICT_WRITES.values():
                    try:
                        write(view)
                    except exc:
                        pass
                    else:
                        failures.append(("dict", write))
                for write, exc in LIST_WRITES.values():
                    try:
                        write(view["l"])
                    except exc:
                        pass
                    else:
                        failures.append(("list", write))
                assert view.to_dict()["x"] == 1

    threads = [threading.Thread(target=attack) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert [r for r, _, _ in roots] == before
