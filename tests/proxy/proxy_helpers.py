"""Shared builders for the proxy tests."""

from __future__ import annotations

import gc
import types


def nested(depth: int):
    """Data whose innermost dict sits at `depth` (1..4) below the root view, alternating
    list and dict containers on the way down. Returns (root, accessor path, innermost dict)."""
    leaf = {"x": 1, "l": [1, 2, [3]], "s": {1, 2}, "t": (1, [2])}
    node, path = leaf, []
    for i in range(depth - 1):
        if i % 2 == 0:
            node, path = [node], [0] + path
        else:
            node, path = {"k": node}, ["k"] + path
    return {"root": node}, ["root"] + path, leaf


def walk(view, path):
    for step in path:
        view = view[step]
    return view


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def reaches(start, target, limit: int = 20000) -> bool:
    """Whether `target` is reachable from `start` through gc.get_referents (types, modules and
    functions are not followed: they lead to everything)."""
    seen = set()
    stack = [start]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if obj is target:
            return True
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))
    return False
