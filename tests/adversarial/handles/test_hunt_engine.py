"""Copy, pickle and lifetime of the engine's public objects."""
import copy
import gc
import pickle
import subprocess
import sys

import pytest

from theus import TheusEngine, process

COPIERS = [("copy", copy.copy), ("deepcopy", copy.deepcopy), ("pickle", lambda o: pickle.loads(pickle.dumps(o)))]
OWNERS = [
    ("engine", lambda e: e, "TheusEngine"),
    ("state", lambda e: e._state, "State"),
    ("snapshot", lambda e: e.state, "Snapshot"),
]


@pytest.mark.parametrize("copier", [c[1] for c in COPIERS], ids=[c[0] for c in COPIERS])
@pytest.mark.parametrize("get, name", [o[1:] for o in OWNERS], ids=[o[0] for o in OWNERS])
def test_handle_owners_refuse_copy_with_a_hint(get, name, copier):
    e = TheusEngine({"domain": {"x": {"y": 1}}})
    with pytest.raises(TypeError, match=f"{name} cannot be copied or pickled"):
        copier(get(e))
    assert e.state.to_dict() == {"domain": {"x": {"y": 1}}}
    e.update({"domain.x.y": 2})
    assert e.state.domain["x"]["y"] == 2


@pytest.mark.parametrize("copier", [c[1] for c in COPIERS], ids=[c[0] for c in COPIERS])
def test_workflow_copy_is_data_and_dropping_it_keeps_the_original(copier):
    e = TheusEngine({"domain": {"n": 0}})

    @process(inputs=["domain.n"], outputs=["domain.n"])
    def inc(ctx):
        return ctx.domain.n + 1

    e.register(inc)
    wf = e.load_workflow("steps:\n  - inc\n")
    dup = copier(wf)
    assert e.execute_workflow(dup) == ("inc",)
    del dup
    gc.collect()
    assert e.execute_workflow(wf) == ("inc",)
    assert e.state.domain.n == 2


@pytest.mark.parametrize("copier", [c[1] for c in COPIERS], ids=[c[0] for c in COPIERS])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_view_copy_is_plain_data(copier, depth):
    value = 1
    for i in range(depth):
        value = {f"k{i}": value}
    e = TheusEngine({"domain": value})
    got = copier(e.state.domain)
    assert got == value
    assert e.state.to_dict() == {"domain": value}


def test_view_outlives_its_engine_in_a_subprocess():
    code = (
        "import gc\nfrom theus import TheusEngine\n"
        "d = TheusEngine({'domain': {'a': [1, 2], 'b': {'c': 3}}}).state.domain\n"
        "gc.collect()\n"
        "assert d['a'][1] == 2 and d['b']['c'] == 3, d\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
