"""Views and the data they wrap are freed; reading in a loop does not grow memory."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

from theus._core import _context, _freeze
from theus.errors import ContractViolationError


class D(dict):
    pass


class L(list):
    pass


def test_views_and_wrapped_data_are_freed():
    data = D(a=L([1, D(b=2)]), c=3)
    data_ref = weakref.ref(data)
    inner_ref = weakref.ref(data["a"])
    view = _freeze(data)
    view_ref = weakref.ref(view)
    nested = view.a
    nested_ref = weakref.ref(nested)
    keys, items, it = view.keys(), view.items(), iter(nested)
    refs = [weakref.ref(x) for x in (keys, items)]
    assert next(it) == 1
    del data
    assert data_ref() is not None  # the view keeps the data alive
    del view, nested, keys, items, it
    gc.collect()
    assert view_ref() is None and nested_ref() is None
    assert all(r() is None for r in refs)
    assert data_ref() is None and inner_ref() is None


def test_context_and_its_values_are_freed():
    value = D(x=1)
    value_ref = weakref.ref(value)
    ctx = _context({"domain.v": value, "global": D(limit=1)}, 1, {"outbox": L()})
    ctx_ref = weakref.ref(ctx)
    assert ctx.domain.v.x == 1
    del value
    assert value_ref() is not None
    del ctx
    gc.collect()
    assert ctx_ref() is None and value_ref() is None


def test_context_cycle_through_an_extra_is_collected():
    box = L()
    ctx = _context({"domain.x": 1}, 0, {"outbox": box})
    ctx.outbox.append(ctx)  # a process puts ctx itself into the outbox
    ctx_ref, box_ref = weakref.ref(ctx), weakref.ref(box)
    del ctx, box
    gc.collect()
    assert ctx_ref() is None and box_ref() is None


def test_gc_referents_of_context_reach_only_extras():
    secret = [1, 2]
    ctx = _context({"domain.s": secret, "global": {"g": secret}}, 0, {"outbox": []})
    for obj in gc.get_referents(ctx):
        assert obj is not secret
        for inner in gc.get_referents(obj):
            assert inner is not secret


def _work(data, values):
    view = _freeze(data)
    total = view["a"] + view.b[0] + len(view.c.d)
    for k, v in view.items():
        total += len(k)
    for x in view.b:
        total += x
    total += sum(1 for _ in reversed(view.b))
    total += len(view.to_dict())
    total += hash(view.b)
    assert view == data
    ctx = _context(values, 1, {"outbox": []})
    total += ctx.domain.counter + len(ctx.domain.items) + ctx.global_.limit
    try:
        view.b.append(1)
    except AttributeError:
        total += 1
    try:
        ctx.domain.other
    except ContractViolationError:
        total += 1
    return total


def test_no_growth_over_100000_iterations():
    data = {"a": 1, "b": [1, 2, 3], "c": {"d": "xyz"}}
    values = {"domain.counter": 1, "domain.items": [1, 2], "global": {"limit": 3}}
    for _ in range(2000):
        _work(data, values)
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(100_000):
            _work(data, values)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"grew by {end - start} bytes"


def test_numpy_arrays_behind_views_are_freed_and_reads_do_not_grow():
    np = __import__("pytest").importorskip("numpy")
    a = np.arange(100_000.0)
    a_ref = weakref.ref(a)
    fa = _freeze({"a": a})["a"]
    assert fa[5] == 5.0
    del a
    assert a_ref() is not None  # the read-only view keeps the memory alive
    del fa
    gc.collect()
    assert a_ref() is None

    data = {"a": np.arange(1000.0), "b": bytearray(b"xyz")}
    for _ in range(500):
        _freeze(data)["a"].sum()
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(20_000):
            v = _freeze(data)
            v["a"].sum()
            bytes(v["b"])
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"grew by {end - start} bytes"
