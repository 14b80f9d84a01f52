"""Views never crash when user code empties the container they wrap while they use it.

Every case runs in a fresh interpreter: a FrozenList, FrozenDict, one of the dict views or a
context wraps a container that hostile code can reach (the caller's own container through the
`_freeze` hook, or a list/dict stored by reference in a committed object's attribute, which is
how a real snapshot reaches it). While the view is inside one of its methods, a hostile object
empties that container: its `__eq__`, `__hash__`, `__index__` or `__repr__`, an ndarray
subclass whose freezing runs Python code, or a finalizer run by an allocation. The case must
finish with the result or the exception the table names, never a signal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PRELUDE = r'''
import copy, gc, json, operator, sys, threading
import numpy as np
import theus
from theus import _core

TARGET = []  # the container the next strike empties (one shot)

def strike():
    if TARGET:
        t = TARGET.pop()
        t.clear()
        gc.collect()
        junk = [[object()] * 8 for _ in range(2000)]  # reuse the freed memory
        del junk

class EvilArray(np.ndarray):
    """Freezing it reads .dtype, which runs this property."""
    @property
    def dtype(self):
        strike()
        return np.ndarray.dtype.__get__(self)

def evil_array():
    return np.arange(4.0).view(EvilArray)

class EvilEq:
    def __init__(self, result=False):
        self.result = result
    def __eq__(self, other):
        strike()
        return self.result
    def __lt__(self, other):
        strike()
        return False
    __le__ = __gt__ = __ge__ = __lt__
    __hash__ = None

class EvilHash:
    """Hashes like the key 'k', then empties the container when compared."""
    def __hash__(self):
        return hash("k")
    def __eq__(self, other):
        strike()
        return False

class EvilHashNow:
    """Empties the container while being hashed."""
    def __hash__(self):
        strike()
        return hash("k")
    def __eq__(self, other):
        return False

class EvilIndex:
    def __init__(self, value=0):
        self.value = value
    def __index__(self):
        strike()
        return self.value

class EvilRepr:
    def __repr__(self):
        strike()
        return "EvilRepr()"

class EvilCopy:
    def __deepcopy__(self, memo):
        strike()
        return "copied"

class Finalizer:
    """Garbage in a cycle: the next collection runs __del__, which strikes."""
    def __init__(self):
        self.me = self
    def __del__(self):
        strike()

class Holder:
    pass

def view_of(route, container):
    """A view over `container` that hostile code can still empty."""
    if route == "freeze":
        return _core._freeze(container)
    holder = Holder()
    holder.data = container
    state = theus.State({"domain": {"holder": holder}})
    view = state.snapshot().domain.holder.data
    assert view == container or True
    return view

def lst(route, *items):
    data = list(items)
    view = view_of(route, data)
    TARGET.append(data)
    return view

def dct(route, **items):
    data = dict(items)
    view = view_of(route, data)
    TARGET.append(data)
    return view

class EvilKey:
    """A stored key whose hash, equality and repr empty the container."""
    def __hash__(self):
        strike()
        return 12345
    def __eq__(self, other):
        strike()
        return self is other
    def __repr__(self):
        strike()
        return "EvilKey()"

def keyed(route):
    data = {"a": [1], EvilKey(): [2], "b": [3]}
    view = view_of(route, data)
    TARGET.append(data)
    return view
'''

EPILOGUE = r'''
try:
    r = run()
    out = {"exc": None, "msg": "", "result": repr(type(r).__name__)}
except BaseException as e:  # reported to the parent, which checks it
    out = {"exc": type(e).__name__, "msg": str(e), "result": None}
print("RESULT " + json.dumps(out))
'''

RT = ("RuntimeError", "changed size")
IDX = ("IndexError", "out of range")

# (case id, body defining run() with `route` in scope, expected (exception name, fragment) or None)
CASES = [
    # ---- FrozenList: hash, comparisons, search ----
    ("list-hash-freeze-empties", "def run():\n    return hash(lst(route, evil_array(), 1, 2, 3))", RT),
    ("list-hash-freeze-empties-last", "def run():\n    return hash(lst(route, 1, 2, evil_array()))", RT),
    ("list-eq-view-view", "def run():\n    a = lst(route, np.arange(4.0), 1, 2)\n"
     "    b = _core._freeze([evil_array(), 1, 2])\n    return a == b", None),
    ("list-eq-view-view-reflected", "def run():\n    a = lst(route, np.arange(4.0), 1, 2)\n"
     "    b = _core._freeze([evil_array(), 1, 2])\n    return b == a", None),
    ("list-eq-plain", "def run():\n    return lst(route, [1], [2], [3]) == [EvilEq(True), 2, 3]", None),
    ("list-ne-plain", "def run():\n    return lst(route, [1], [2], [3]) != [EvilEq(True), 2, 3]", None),
    ("list-eq-tuple", "def run():\n    return lst(route, {'a': 1}, 2) == (EvilEq(True), 2)", None),
    ("list-lt-plain", "def run():\n    return lst(route, [1], [2]) < [EvilEq(), 2]", None),
    ("list-le-plain", "def run():\n    return lst(route, [1], [2]) <= [EvilEq(), 2]", None),
    ("list-gt-plain", "def run():\n    return lst(route, [1], [2]) > [EvilEq(), 2]", None),
    ("list-ge-plain", "def run():\n    return lst(route, [1], [2]) >= [EvilEq(), 2]", None),
    ("list-contains", "def run():\n    return EvilEq() in lst(route, [1], [2], [3], [4])", None),
    ("list-count", "def run():\n    return lst(route, [1], [2], [3]).count(EvilEq(True))", None),
    ("list-index", "def run():\n    return lst(route, [1], [2], [3]).index(EvilEq())", ("ValueError", "not in list")),
    ("list-index-start", "def run():\n    return lst(route, [1], [2], [3]).index([3], EvilIndex(0))",
     ("ValueError", "not in list")),
    ("list-index-stop", "def run():\n    return lst(route, [1], [2], [3]).index([3], 0, EvilIndex(3))",
     ("ValueError", "not in list")),
    ("list-contains-array-eq", "def run():\n    return evil_array() in lst(route, np.arange(4.0), [2])", None),
    # ---- FrozenList: indexing, slicing, iteration ----
    ("list-getitem-index", "def run():\n    return lst(route, [1], [2], [3])[EvilIndex(2)]", IDX),
    ("list-getitem-index-neg", "def run():\n    return lst(route, [1], [2], [3])[EvilIndex(-1)]", IDX),
    ("list-getitem-freeze", "def run():\n    return lst(route, evil_array(), [2])[0]", None),
    ("list-getitem-freeze-neg", "def run():\n    return lst(route, [1], evil_array())[-1]", None),
    ("list-getitem-operator", "def run():\n    return operator.getitem(lst(route, evil_array(), 2), 0)", None),
    ("list-slice-start", "def run():\n    return lst(route, [1], [2], [3])[EvilIndex(0):3]", None),
    ("list-slice-stop", "def run():\n    return lst(route, [1], [2], [3])[0:EvilIndex(3)]", None),
    ("list-slice-step", "def run():\n    return lst(route, [1], [2], [3])[::EvilIndex(1)]", None),
    ("list-slice-finalizer",
     "def run():\n    v = lst(route, *[[i] for i in range(50)])\n    gc.collect()\n"
     "    Finalizer()\n    gc.set_threshold(1)\n    try:\n        s = v[0:50]\n    finally:\n"
     "        gc.set_threshold(700)\n    return list(s)", None),
    ("list-iter-freeze", "def run():\n    return list(lst(route, evil_array(), [2], [3]))", None),
    ("list-iter-freeze-middle", "def run():\n    return [x for x in lst(route, [1], evil_array(), [3])]", None),
    ("list-reversed-freeze", "def run():\n    return list(reversed(lst(route, [1], [2], evil_array())))", None),
    ("list-tuple-of", "def run():\n    return tuple(lst(route, evil_array(), [2], [3]))", None),
    ("list-repr", "def run():\n    return repr(lst(route, EvilRepr(), [2], [3]))", None),
    ("list-repr-nested", "def run():\n    return repr(lst(route, [EvilRepr(), [1]], [2]))", None),
    ("list-mul-index", "def run():\n    return lst(route, [1], [2]) * EvilIndex(2)", None),
    ("list-deepcopy", "def run():\n    return copy.deepcopy(lst(route, EvilCopy(), [2], [3]))", None),
    # ---- FrozenDict ----
    ("dict-hash-freeze-empties", "def run():\n    return hash(dct(route, k=evil_array(), a=1, b=2))",
     ("TypeError", "unhashable")),
    ("dict-hash-freeze-empties-tuple", "def run():\n    return hash(dct(route, a=(1,), k=(evil_array(),), b=2))",
     ("TypeError", "unhashable")),
    ("dict-eq-plain", "def run():\n    return dct(route, k=[1], a=[2], b=[3]) == {'k': EvilEq(True), 'a': [2], 'b': [3]}", None),
    ("dict-ne-plain", "def run():\n    return dct(route, k=[1], a=[2]) != {'k': EvilEq(True), 'a': [2]}", None),
    ("dict-eq-view-view", "def run():\n    a = dct(route, k=np.arange(4.0), a=[2])\n"
     "    b = _core._freeze({'k': evil_array(), 'a': [2]})\n    return a == b", None),
    ("dict-getitem-freeze", "def run():\n    return dct(route, k=evil_array(), a=1)['k']", None),
    ("dict-getattr-freeze", "def run():\n    return dct(route, k=evil_array(), a=1).k", None),
    ("dict-get-freeze", "def run():\n    return dct(route, k=evil_array(), a=1).get('k')", None),
    ("dict-getattr-fallback-freeze", "def run():\n    return dct(route, k=evil_array(), a=1).k_", None),
    ("dict-getitem-hostile-key", "def run():\n    return dct(route, k=[1], a=[2])[EvilHash()]", ("KeyError", "")),
    ("dict-contains-hostile-key", "def run():\n    return EvilHash() in dct(route, k=[1], a=[2])", None),
    ("dict-get-hostile-key", "def run():\n    return dct(route, k=[1], a=[2]).get(EvilHash(), 0)", None),
    ("dict-getitem-hashing-key", "def run():\n    return dct(route, k=[1], a=[2])[EvilHashNow()]", ("KeyError", "")),
    ("dict-iter-values-freeze", "def run():\n    return list(dct(route, k=evil_array(), a=[1], b=[2]).values())", RT),
    ("dict-iter-items-freeze", "def run():\n    return list(dct(route, k=evil_array(), a=[1], b=[2]).items())", RT),
    ("dict-iter-items-freeze-last", "def run():\n    return list(dct(route, a=[1], b=[2], k=evil_array()).items())", RT),
    ("dict-values-contains", "def run():\n    return EvilEq() in dct(route, k=[1], a=[2], b=[3]).values()", None),
    ("dict-items-contains", "def run():\n    return ('k', EvilEq()) in dct(route, k=[1], a=[2]).items()", None),
    ("dict-items-contains-hostile-key", "def run():\n    return (EvilHash(), 1) in dct(route, k=[1], a=[2]).items()", None),
    ("dict-keys-contains-hostile-key", "def run():\n    return EvilHash() in dct(route, k=[1], a=[2]).keys()", None),
    ("dict-keys-eq-set", "def run():\n    return dct(route, k=[1], a=[2]).keys() == {EvilHash(), 'a'}", None),
    ("dict-keys-and-set", "def run():\n    return dct(route, k=[1], a=[2]).keys() & {EvilHash()}", None),
    ("dict-keys-isdisjoint", "def run():\n    return dct(route, k=[1], a=[2]).keys().isdisjoint([EvilHash()])", None),
    ("dict-or-hostile-key", "def run():\n    return dct(route, k=[1], a=[2]) | {EvilHashNow(): 1}", None),
    ("dict-repr", "def run():\n    return repr(dct(route, k=EvilRepr(), a=[1], b=[2]))", None),
    ("dict-repr-values", "def run():\n    return repr(dct(route, k=EvilRepr(), a=[1]).values())", None),
    ("dict-repr-items", "def run():\n    return repr(dct(route, k=EvilRepr(), a=[1]).items())", None),
    ("dict-reversed-freeze", "def run():\n    return list(reversed(dct(route, a=[1], k=evil_array())))", None),
    ("dict-to-dict", "def run():\n    return dct(route, k=EvilCopy(), a=[1], b=[2]).to_dict()", None),
    ("dict-stored-key-hash", "def run():\n    return hash(keyed(route))", None),
    ("dict-stored-key-keys-set", "def run():\n    return set(keyed(route).keys())", RT),
    ("dict-stored-key-keys-and", "def run():\n    return keyed(route).keys() & {'a'}", RT),
    ("dict-stored-key-items-eq", "def run():\n    return keyed(route).items() == set()", RT),
    ("dict-stored-key-eq-dict", "def run():\n    v = keyed(route)\n    return v == {'a': [1], 'x': [2], 'b': [3]}", None),
    ("dict-stored-key-repr", "def run():\n    return repr(keyed(route))", None),
    ("dict-stored-key-repr-keys", "def run():\n    return repr(keyed(route).keys())", None),
    ("dict-stored-key-or", "def run():\n    return keyed(route) | {'z': 1}", None),
    ("dict-nested-list-hash", "def run():\n    d = dct(route, k=[1])\n    inner = [evil_array(), 1, 2]\n"
     "    TARGET[:] = [inner]\n    holder = _core._freeze({'x': inner})\n    return hash(holder.x)", RT),
]

CONTEXT_CASES = [
    ("context-str-subclass-path-hashing",
     "class P(str):\n    def __hash__(self):\n        strike()\n        return str.__hash__(self)\n"
     "    __eq__ = str.__eq__\n"
     "def run():\n    values = {P('domain.a'): [1], 'domain.b': [2], 'domain.c': [3]}\n    TARGET.append(values)\n"
     "    ctx = _core._context(values, 0)\n    return sorted(ctx.domain.keys())", None),
    ("context-hostile-key-lookup",
     "def run():\n    ctx = _core._context({'domain.k': [1], 'domain.a': [2]}, 0)\n"
     "    TARGET.append({})\n    v = ctx.domain.get(EvilHash(), None)\n"
     "    assert sorted(ctx.domain.keys()) == ['a', 'k']\n    return v", ("ContractViolationError", "not among")),
    ("context-repr-leaf",
     "def run():\n    data = [EvilRepr(), [1]]\n    ctx = _core._context({'domain.k': data}, 0)\n"
     "    TARGET.append(data)\n    return repr(ctx.domain)", None),
    ("context-to-dict-leaf",
     "def run():\n    data = [EvilCopy(), [1]]\n    ctx = _core._context({'domain.k': data}, 0)\n"
     "    TARGET.append(data)\n    return ctx.domain.to_dict()", None),
    ("context-freeze-leaf-empties",
     "def run():\n    data = [evil_array(), [1]]\n    ctx = _core._context({'domain.k': data, 'domain.j': 1}, 0)\n"
     "    TARGET.append(data)\n    return list(ctx.domain.k)", None),
    ("context-values-freeze",
     "def run():\n    data = {'x': evil_array()}\n    ctx = _core._context({'domain.k': data, 'domain.j': [1]}, 0)\n"
     "    TARGET.append(data)\n    return ctx.domain.values()", None),
]

THREAD_CASE = '''
def run():
    holder = Holder()
    holder.data = [[i] for i in range(20)]
    state = theus.State({"domain": {"holder": holder}})
    view = state.snapshot().domain.holder.data
    stop = []
    def churn():
        while not stop:
            holder.data[:] = [[i] for i in range(20)]
            holder.data.clear()
    t = threading.Thread(target=churn)
    sys.setswitchinterval(1e-6)
    t.start()
    try:
        for _ in range(3000):
            for op in (lambda: view == [[0]] * 20, lambda: [0] in view, lambda: list(view),
                       lambda: view[0:10], lambda: view.count([1]), lambda: repr(view)):
                try:
                    op()
                except (IndexError, RuntimeError, ValueError):
                    pass
    finally:
        stop.append(1)
        t.join()
    return True
'''


def run_case(body: str, route: str) -> dict:
    code = PRELUDE + f"\nroute = {route!r}\n" + textwrap.dedent(body) + "\n" + EPILOGUE
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"interpreter died (rc={proc.returncode}):\n{proc.stderr[-3000:]}"
    assert "Fatal Python error" not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no result:\nstdout={proc.stdout[-2000:]}\nstderr={proc.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def check(out: dict, expected) -> None:
    if expected is None:
        assert out["exc"] is None, f"unexpected {out['exc']}: {out['msg']}"
    else:
        name, fragment = expected
        assert out["exc"] == name, f"expected {name}, got {out['exc']}: {out['msg']}"
        assert fragment in out["msg"]


@pytest.mark.parametrize("route", ["freeze", "state"])
@pytest.mark.parametrize("case_id, body, expected", CASES, ids=[c[0] for c in CASES])
def test_views_survive_hostile_mutation(case_id, body, expected, route):
    check(run_case(body, route), expected)


@pytest.mark.parametrize("case_id, body, expected", CONTEXT_CASES, ids=[c[0] for c in CONTEXT_CASES])
def test_context_survives_hostile_code(case_id, body, expected):
    check(run_case(body, "freeze"), expected)


def test_threads_mutating_a_wrapped_list_never_crash():
    check(run_case(THREAD_CASE, "state"), None)


def test_the_hostile_objects_really_strike():
    # The cases above prove nothing unless the strike empties the wrapped container while the
    # view is inside its method: check that for one case of each kind.
    body = """
def run():
    seen = {}
    data = [evil_array(), 1, 2]
    v = _core._freeze(data)
    TARGET.append(data)
    try:
        hash(v)
    except RuntimeError:
        pass
    seen["array"] = len(data)
    data = [[1], [2]]
    v = _core._freeze(data)
    TARGET.append(data)
    v == [EvilEq(True), [2]]
    seen["eq"] = len(data)
    data = [[1], [2]]
    v = _core._freeze(data)
    TARGET.append(data)
    try:
        v[EvilIndex(1)]
    except IndexError:
        pass
    seen["index"] = len(data)
    d = {"k": 1, "a": 2}
    v = _core._freeze(d)
    TARGET.append(d)
    EvilHash() in v
    seen["hash"] = len(d)
    assert seen == {"array": 0, "eq": 0, "index": 0, "hash": 0}, seen
    return seen
"""
    check(run_case(body, "freeze"), None)
