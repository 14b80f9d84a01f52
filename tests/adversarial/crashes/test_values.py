"""Deep, cyclic and marker-laden values at every commit entry point: a clear error, the state
unchanged, never a dead interpreter.

Every case runs in one child interpreter per table (a crash there would otherwise take the
test run down); the child reports, per case, the exception raised and whether the state kept
its version and value. The tests then check each case against the table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from theus import DELETE, ArgumentError, TheusEngine, process
from theus.state import State

ENTRIES = ["State", "TheusEngine", "state.update", "state.compare_and_swap", "engine.update",
           "engine.compare_and_swap", "process.return", "process.return.dict"]

# shape -> expected exception name and message fragment
SHAPES = {
    "dict_self": ("RecursionError", "cyclic"),          # {"a": {"a": ...}} with str keys
    "dict_cycle2": ("RecursionError", "cyclic"),        # a -> b -> a
    "list_self": ("RecursionError", "cyclic"),
    "tuple_list_self": ("RecursionError", "cyclic"),    # ([...],) where the list holds the tuple
    "intkey_dict_self": ("RecursionError", "cyclic"),   # a dict leaf (int keys) holding itself
    "mixed_self": ("RecursionError", "cyclic"),         # dict -> list -> dict
    "list_tuple_self": ("RecursionError", "cyclic"),    # [frozenset, ([...],)]: the list inside a tuple
    "deep_dict": ("RecursionError", "nested deeper|cyclic"),   # 30,000 levels of str-keyed dicts
    "deep_list": ("RecursionError", "nested deeper|cyclic"),
    "deep_tuple": ("RecursionError", "nested deeper|cyclic"),
    "deep_mixed": ("RecursionError", "nested deeper|cyclic"),
}

CHILD = textwrap.dedent(
    r'''
    import json, sys, threading
    sys.setrecursionlimit(int(sys.argv[2]))
    from theus import TheusEngine, process
    from theus.state import State

    def shape(name, depth):
        def wrap(v, d):
            for _ in range(d):
                v = {"k": v}
            return v
        if name == "dict_self":
            d = {}; d["a"] = d; return wrap(d, depth - 1)
        if name == "dict_cycle2":
            a, b = {}, {}; a["b"] = b; b["a"] = a; return wrap(a, depth - 1)
        if name == "list_self":
            l = []; l.append(l); return wrap(l, depth - 1)
        if name == "tuple_list_self":
            l = []; t = (l,); l.append(t); return wrap(t, depth - 1)
        if name == "intkey_dict_self":
            d = {1: None}; d[1] = d; return wrap(d, depth - 1)
        if name == "mixed_self":
            d = {"x": []}; d["x"].append({"y": d}); return wrap(d, depth - 1)
        if name == "list_tuple_self":
            l = [frozenset({1})]; l.append((l,)); return wrap(l, depth - 1)
        n = 30000
        if name == "deep_dict":
            v = 0
            for _ in range(n): v = {"a": v}
            return wrap(v, depth - 1)
        if name == "deep_list":
            v = 0
            for _ in range(n): v = [v]
            return wrap(v, depth - 1)
        if name == "deep_tuple":
            v = 0
            for _ in range(n): v = (v,)
            return wrap(v, depth - 1)
        if name == "deep_mixed":
            v = 0
            for i in range(n): v = [v] if i % 3 == 0 else ((v,) if i % 3 == 1 else {i: v})
            return wrap(v, depth - 1)
        raise ValueError(name)

    def attempt(entry, value):
        if entry == "State":
            State({"domain": {"x": value}}); return None
        if entry == "TheusEngine":
            TheusEngine({"domain": {"x": value}}); return None
        if entry.startswith("state."):
            st = State({"domain": {"x": 1}}, history=2)
            before = st.version
            try:
                if entry == "state.update":
                    st.update({"domain.x": value})
                else:
                    st.compare_and_swap(st.version, {"domain.x": value, "domain.y": 2})
            finally:
                assert st.version == before and st.get("domain.x") == 1, "state changed"
                assert "y" not in st.get("domain")
            return None
        eng = TheusEngine({"domain": {"x": 1}})
        before = eng.state.version
        try:
            if entry == "engine.update":
                eng.update({"domain.x": value})
            elif entry == "engine.compare_and_swap":
                eng.compare_and_swap(eng.state.version, {"domain.x": value})
            elif entry == "process.return":
                @process(inputs=["domain.x"], outputs=["domain.x"])
                def p(ctx):
                    return value
                eng.execute(p)
            else:
                @process(inputs=["domain.x"], outputs=["domain.x", "domain.y"])
                def p(ctx):
                    return {"domain.x": 5, "domain.y": value}
                eng.execute(p)
        finally:
            assert eng.state.version == before and eng.state.domain.x == 1, "state changed"
        return None

    cases = json.loads(sys.argv[1])
    out = {}
    for case in cases:
        cid, entry, name, depth = case
        try:
            attempt(entry, shape(name, depth))
            out[cid] = ["", "no exception"]
        except BaseException as e:
            out[cid] = [type(e).__name__, str(e) + " " + " ".join(getattr(e, "__notes__", []))]
    if len(sys.argv) > 3:  # the same cases again from four threads at once
        errs = []
        def worker():
            for case in cases:
                try:
                    attempt(case[1], shape(case[2], case[3]))
                    errs.append("no exception")
                except RecursionError:
                    pass
                except BaseException as e:
                    errs.append(repr(e))
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        out["threads"] = errs
    print(json.dumps(out))
    '''
)


def _cases(shapes, depths, entries):
    return [[f"{e}-{s}-{d}", e, s, d] for e in entries for s in shapes for d in depths]


CYCLIC = [s for s in SHAPES if not s.startswith("deep")]
DEEP = [s for s in SHAPES if s.startswith("deep")]
TABLE = _cases(CYCLIC, [1, 2, 3, 4], ENTRIES) + _cases(DEEP, [1, 3], ENTRIES)


def _run(cases, limit, threads=False):
    args = [sys.executable, "-c", CHILD, json.dumps(cases), str(limit)] + (["threads"] if threads else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"child died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    assert "fatal error" not in proc.stderr and "Segmentation" not in proc.stderr, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def results_default_limit():
    return _run(TABLE, 1000)


@pytest.fixture(scope="module")
def results_high_limit():
    # With a recursion limit far above what the C stack can hold, theus's own bounds apply.
    return _run(TABLE, 1_000_000)


@pytest.mark.parametrize("cid,entry,shape,depth", TABLE, ids=[c[0] for c in TABLE])
def test_cyclic_and_deep_values_raise_and_leave_the_state_unchanged(results_default_limit, cid, entry, shape, depth):
    exc, fragment = SHAPES[shape]
    got_type, got_msg = results_default_limit[cid]
    assert got_type == exc, got_msg
    assert re.search(fragment, got_msg), got_msg
    assert "state changed" not in got_msg


@pytest.mark.parametrize("cid,entry,shape,depth", TABLE, ids=[c[0] for c in TABLE])
def test_a_huge_recursion_limit_does_not_let_theus_overflow_the_stack(results_high_limit, cid, entry, shape, depth):
    exc, _ = SHAPES[shape]
    got_type, got_msg = results_high_limit[cid]
    assert got_type == exc, got_msg
    assert "nested deeper" in got_msg or "cyclic" in got_msg
    assert "state changed" not in got_msg


def test_cyclic_commits_from_four_threads_at_once():
    cases = _cases(["dict_self", "list_self", "mixed_self"], [1, 2], ["state.update", "process.return"])
    out = _run(cases, 1000, threads=True)
    assert out["threads"] == []
    assert all(out[c[0]][0] == "RecursionError" for c in cases)


def test_the_error_names_the_path_written():
    d = {}
    d["a"] = d
    st = State({"domain": {"x": 1}})
    with pytest.raises(RecursionError, match=r"domain\.x\.a\.a"):
        st.update({"domain.x": d})
    l = []
    l.append(l)
    with pytest.raises(RecursionError) as info:
        st.update({"domain.y": l})
    assert "while storing domain.y" in " ".join(info.value.__notes__)
    assert st.version == 0


@pytest.mark.parametrize("depth", [10, 100, 300])
def test_deep_but_reasonable_values_still_commit(depth):
    v = 0
    for _ in range(depth):
        v = {"a": [v]}
    st = State({"domain": {"x": v}})
    x = st.get("domain.x")
    for _ in range(depth):
        x = x["a"][0]
    assert x == 0


# ---- theus.DELETE inside a value: refused at commit, at every depth and entry point ----

def _nest(marker, depth, how):
    v = marker
    for i in range(depth):
        v = {"list": [0, v], "tuple": (v,), "dict": {"k": v}, "intkey": {i: v}, "set": None}[how]
    return v


DELETE_CASES = [(how, depth) for how in ("list", "tuple", "dict", "intkey") for depth in (1, 2, 3, 4)]


def _delete_entries(value):
    yield "State", lambda: State({"domain": {"x": value}})
    yield "TheusEngine", lambda: TheusEngine({"domain": {"x": value}})
    st = State({"domain": {"x": 1}})
    yield "update", lambda: st.update({"domain.x": value})
    yield "cas", lambda: st.compare_and_swap(st.version, {"domain.x": value})
    eng = TheusEngine({"domain": {"x": 1}})

    @process(inputs=["domain.x"], outputs=["domain.x"])
    def returns(ctx):
        return value

    yield "process", lambda: eng.execute(returns)
    yield "engine.update", lambda: eng.update({"domain.x": value})
    assert st.version == 0 and st.get("domain.x") == 1
    assert eng.state.version == 0 and eng.state.domain.x == 1


@pytest.mark.parametrize("how,depth", DELETE_CASES)
def test_delete_inside_a_value_is_refused_everywhere(how, depth):
    value = _nest(DELETE, depth, how)
    seen = 0
    for name, fn in _delete_entries(value):
        with pytest.raises(ArgumentError, match="theus.DELETE removes a path") as info:
            fn()
        assert "domain.x" in str(info.value), (name, str(info.value))
        seen += 1
    assert seen == 6


@pytest.mark.parametrize(
    "value,where",
    [([1, DELETE], "domain.x[1]"), ({"a": {"b": DELETE}}, "domain.x.a.b"),
     ({"a": [(1, {"k": DELETE})]}, "domain.x.a[0][1]['k']"), ({1: DELETE}, "domain.x[1]"),
     ((DELETE,), "domain.x[0]"), ({"a": {2: [DELETE]}}, "domain.x.a[2][0]")],
)
def test_delete_refusal_names_where_it_sits(value, where):
    st = State({"domain": {"x": 1}})
    with pytest.raises(ArgumentError) as info:
        st.update({"domain.x": value})
    assert str(info.value).startswith(where + ": theus.DELETE"), str(info.value)


def test_delete_as_a_whole_value_still_removes_the_path():
    st = State({"domain": {"x": 1, "y": 2}})
    st.update({"domain.x": DELETE})
    assert "x" not in st.get("domain") and st.get("domain.y") == 2
