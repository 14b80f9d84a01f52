"""Memory stays flat: a 500 MB array committed and read through processes costs no copy, and
replacing large arrays in a loop releases each one. Measured in a child interpreter reading its
own /proc/self/status (VmRSS), after the array exists, so only theus's own use counts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

MB = 2**20

CHILD = textwrap.dedent(
    """
    import gc, json, sys
    import numpy as np
    import theus
    from theus import TheusEngine, process

    def rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    mode = sys.argv[1]
    out = {}
    engine = TheusEngine(context={"heavy": {"x": None}})
    seen = {}

    @process(outputs=["heavy.x"])
    def write(ctx, value):
        return value

    @process(inputs=["heavy.x"])
    def read(ctx):
        x = ctx.heavy.x
        seen["ptr"] = x.__array_interface__["data"][0]
        seen["sum"] = float(x[::4096].sum())  # touches the view without copying it

    engine.register(write)
    engine.register(read)
    # warm up every code path on a small array, so lazy imports and caches are not counted
    engine.execute(write, value=np.ones(1000))
    engine.execute(read)

    if mode in ("big", "big-copy"):
        arr = np.ones(500 * 2**20 // 8)  # 500 MB, every page touched
        value = theus.heavy.copy(arr) if mode == "big-copy" else arr
        gc.collect()
        before = rss()
        engine.execute(write, value=value)
        engine.execute(read)
        snap = engine.state.heavy.x
        out["ptr_equal"] = seen["ptr"] == arr.__array_interface__["data"][0] == snap.__array_interface__["data"][0]
        out["growth"] = rss() - before
    else:  # the replacement loop
        samples = []
        for i in range(12):
            engine.execute(write, value=np.full(50 * 2**20 // 8, float(i)))  # 50 MB each
            engine.execute(read)
            gc.collect()
            samples.append(rss())
        out["samples"] = samples
        out["stats"] = theus.heavy.stats()
    print(json.dumps(out))
    """
)


def run(mode: str) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_500mb_commit_and_read_grow_rss_by_less_than_5mb():
    out = run("big")
    assert out["ptr_equal"]
    assert out["growth"] < 5 * MB, out


def test_the_measurement_sees_a_copy():
    """The same measurement with theus.heavy.copy: it must see the 500 MB copy, or the test
    above proves nothing."""
    out = run("big-copy")
    assert not out["ptr_equal"]
    assert out["growth"] > 400 * MB, out


def test_replacing_large_arrays_keeps_memory_flat():
    out = run("loop")
    samples = out["samples"]
    # each array is 50 MB: once warm, every round must free the previous one
    assert max(samples[2:]) - min(samples[2:]) < 20 * MB, [s // MB for s in samples]
    assert out["stats"]["values"] == 1 and out["stats"]["bytes"] == 50 * MB
