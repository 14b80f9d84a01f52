"""The bound methods a FrozenDict hands out (fd.get, fd.items, ...) behave as builtin bound
methods do: same results, errors, equality, introspection and pickling, and no leak."""
import gc
import inspect
import pickle
import sys

import pytest

import theus


@pytest.fixture
def fd():
    e = theus.TheusEngine({"domain": {"k": 1, "d": {"x": [1, 2]}, "get": "a key named get"}})
    e.update({"domain.k": 2})  # a view over state that went through a commit
    return e.state.domain


def test_calls_match_the_dict_methods(fd):
    assert fd.get("k") == 2
    assert fd.get("missing") is None
    assert fd.get("missing", 5) == 5
    assert fd.get("d").get("x") == [1, 2]
    assert type(fd.get("d")) is theus.FrozenDict  # values still come back frozen
    assert list(fd.keys()) == ["k", "d", "get"]
    assert dict(fd.items())["k"] == 2
    assert fd["get"] == "a key named get"  # fd.get stays the method


def test_argument_errors_are_the_builtin_ones(fd):
    with pytest.raises(TypeError, match="get expected 1 or 2 arguments, got 0"):
        fd.get()
    with pytest.raises(TypeError, match="got 3"):
        fd.get(1, 2, 3)
    with pytest.raises(TypeError, match=r"items\(\) takes no arguments \(1 given\)"):
        fd.items(1)
    with pytest.raises(TypeError, match="no keyword arguments"):
        fd.get(key="k")
    with pytest.raises(TypeError, match="exactly one argument"):
        fd.__deepcopy__()


def test_introspection(fd):
    g = fd.get
    assert g.__self__ is fd
    assert g.__name__ == "get"
    assert g.__qualname__ == "FrozenDict.get"
    assert "default" in g.__doc__
    assert str(inspect.signature(g)) == "(key, default=None, /)"
    assert str(inspect.signature(fd.items)) == "()"
    assert repr(g).startswith("<built-in method get of theus._core.FrozenDict object at 0x")
    assert callable(g)


def test_equality_and_hash(fd):
    assert fd.get == fd.get
    assert not (fd.get != fd.get)
    assert fd.get != fd.items
    assert hash(fd.get) == hash(fd.get)
    other = theus.State({"domain": {"k": 2}}).snapshot().domain
    assert fd.get != other.get  # another view
    assert {fd.get: 1}[fd.get] == 1


def test_pickles_as_the_plain_dicts_method(fd):
    g = pickle.loads(pickle.dumps(fd.get))
    assert g("k") == 2
    assert type(g.__self__) is dict


def test_many_live_bindings_stay_bound_to_their_views(fd):
    views = [theus.State({"domain": {"n": i}}).snapshot().domain for i in range(40)]
    bound = [v.get for v in views]  # more than the spare bindings kept for reuse
    del bound[::2]
    gc.collect()
    again = [v.get for v in views]
    assert [g("n") for g in again] == list(range(40))
    assert all(g.__self__ is v for g, v in zip(again, views))


def test_no_reference_is_leaked(fd):
    before = sys.getrefcount(fd)
    kept = [fd.get for _ in range(100)]
    assert sys.getrefcount(fd) == before + 100  # each binding holds the view
    del kept
    for _ in range(1000):
        fd.get("k")
        fd.items()
    assert sys.getrefcount(fd) == before


@pytest.mark.parametrize("name", ["get", "items", "keys", "values", "to_dict"])
def test_inspect_and_pydoc_see_a_routine_as_for_the_dict(fd, name):
    method = getattr(fd, name)
    assert inspect.isroutine(method) is inspect.isroutine(getattr({}, name, {}.get))
    assert method.__module__ is None  # as {}.get.__module__
    import pydoc

    text = pydoc.render_doc(method, renderer=pydoc.plaintext)
    assert name in text and "(" in text  # documented as a callable with its signature


def test_a_method_kept_on_a_class_stays_bound_to_its_view(fd):
    class Holder:
        lookup = fd.get

    assert Holder().lookup is Holder.lookup
    assert Holder().lookup("k") == 2
