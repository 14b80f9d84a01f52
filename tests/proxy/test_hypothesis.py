"""Property: a view agrees with the plain data it wraps."""

from __future__ import annotations

import copy
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from theus._core import FrozenDict, FrozenList, _freeze

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.binary(max_size=5),
)
keys = st.one_of(st.text(max_size=5), st.integers(-5, 5))
data = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
        st.tuples(children, children),
    ),
    max_leaves=30,
)


def plain(view):
    if type(view) is FrozenDict:
        return view.to_dict()
    if type(view) is FrozenList:
        return view.to_list()
    return view


def check(value, view):
    if isinstance(value, dict):
        assert type(view) is FrozenDict
        assert len(view) == len(value)
        assert list(view) == list(value)
        assert view == value
        assert view.to_dict() == value
        for k, v in value.items():
            assert k in view
            check(v, view[k])
            check(v, view.get(k))
        assert [k for k, _ in view.items()] == list(value)
        for (k, v), fv in zip(value.items(), view.values()):
            check(v, fv)
    elif isinstance(value, (list, tuple)):
        assert type(view) is FrozenList
        assert len(view) == len(value)
        assert view == value
        assert view.to_list() == list(value)
        for i, v in enumerate(value):
            check(v, view[i])
            check(v, view[i - len(value)])
        for v, fv in zip(value, view):
            check(v, fv)
        assert view[1:] == value[1:]
    else:
        assert view is value


@settings(max_examples=300, deadline=None)
@given(data)
def test_view_agrees_with_data(value):
    before = copy.deepcopy(value)
    view = _freeze(value)
    check(value, view)
    if isinstance(value, dict):
        assert pickle.loads(pickle.dumps(view)) == value
        assert copy.deepcopy(view) == value
    assert value == before


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), data, max_size=6), st.dictionaries(st.text(max_size=4), data, max_size=6))
def test_equality_matches_plain_equality(a, b):
    assert (_freeze(a) == b) == (a == b)
    assert (_freeze(a) == _freeze(b)) == (a == b)
    assert (_freeze(a) | b) == (a | b)
