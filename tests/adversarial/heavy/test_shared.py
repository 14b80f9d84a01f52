"""Shared memory for workers: theus.heavy.share puts an array in a POSIX segment that spawn
workers map read-only without copying, and its owner unlinks the segment whatever happens to
the workers (a SIGKILLed child included) or to the owner (closing, or exiting without
closing). Each case runs in its own interpreter, which must leave nothing in /dev/shm and
print no resource_tracker warning."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import theus
from theus import ArgumentError

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs POSIX shared memory in /dev/shm")

SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing as mp, os, signal, sys, time
    import numpy as np
    import theus

    def owner_of(a):
        while isinstance(a, np.ndarray):
            a = a.base
        return type(a.obj).__name__ if isinstance(a, memoryview) else type(a).__name__

    def reader(shared, q):
        a = shared.array
        try:
            a[0] = 1.0
            wrote = True
        except ValueError:
            wrote = False
        q.put([float(a.sum()), a.shape, wrote, owner_of(a), shared.owner])

    def hold(shared, q):
        a = shared.array
        q.put("ready")
        time.sleep(120)

    if __name__ == "__main__":
        mode = sys.argv[1]
        ctx = mp.get_context("spawn")
        arr = np.arange(100_000, dtype=float).reshape(1000, 100)
        shared = theus.heavy.share(arr)
        q = ctx.Queue()
        out = {"name": shared.name, "exists": os.path.exists("/dev/shm/" + shared.name)}
        target = hold if mode == "kill" else reader
        p = ctx.Process(target=target, args=(shared, q))
        p.start()
        out["got"] = q.get(timeout=120)
        if mode == "kill":
            os.kill(p.pid, signal.SIGKILL)
        p.join()
        out["exitcode"] = p.exitcode
        if mode != "exit":  # "exit" leaves the owner open: the finalizer runs at exit
            shared.close()
            out["after_close"] = os.path.exists("/dev/shm/" + shared.name)
        print(json.dumps(out), flush=True)
    """
)


def run(tmp_path: pathlib.Path, mode: str) -> dict:
    script = tmp_path / "owner.py"
    script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resource_tracker" not in r.stderr and "leaked" not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    assert out["exists"]  # the segment was really created
    assert not os.path.exists("/dev/shm/" + out["name"]), "segment left behind"
    return out


def test_spawn_worker_reads_without_copying(tmp_path):
    out = run(tmp_path, "read")
    total, shape, wrote, owner, is_owner = out["got"]
    assert total == float(np.arange(100_000, dtype=float).sum()) and shape == [1000, 100]
    assert wrote is False  # read-only in the worker
    assert owner == "mmap"  # the worker's array is the mapping itself, not a copy
    assert is_owner is False  # a pickled SharedArray does not own the segment
    assert out["after_close"] is False


def test_killed_worker_leaves_no_segment(tmp_path):
    out = run(tmp_path, "kill")
    assert out["got"] == "ready" and out["exitcode"] == -9
    assert out["after_close"] is False


def test_owner_exiting_without_close_unlinks(tmp_path):
    out = run(tmp_path, "exit")
    assert out["exitcode"] == 0


def test_in_process_owner_lifecycle():
    arr = np.arange(10, dtype="i4")
    with theus.heavy.share(arr) as shared:
        path = "/dev/shm/" + shared.name
        assert os.path.exists(path) and shared.owner
        a = shared.array
        np.testing.assert_array_equal(a, arr)
        assert a.flags.writeable is False
        with pytest.raises(ValueError):
            a.setflags(write=True)
    assert not os.path.exists(path) and not shared.owner
    np.testing.assert_array_equal(a, arr)  # a mapping outlives the name
    with pytest.raises(ArgumentError, match="segment is gone"):
        shared.array
    shared.close()  # idempotent


def test_collected_owner_unlinks():
    shared = theus.heavy.share(np.zeros(4))
    path = "/dev/shm/" + shared.name
    assert os.path.exists(path)
    del shared
    assert not os.path.exists(path)


def test_share_refuses_object_arrays_and_takes_heavy_views():
    with pytest.raises(ArgumentError, match="Python objects"):
        theus.heavy.share(np.array([object()]))
    engine = theus.TheusEngine(context={"heavy": {"x": np.arange(5.0)}})
    with theus.heavy.share(engine.state.heavy.x) as shared:
        np.testing.assert_array_equal(shared.array, np.arange(5.0))
        # committing the shared array by reference needs adopt: its mapping is not lockable
        engine.update({"heavy.y": theus.heavy.adopt(shared.array)})
        y = engine.state.heavy.y
        assert y.__array_interface__["data"][0] == shared.array.__array_interface__["data"][0]


def test_zero_size_share():
    with theus.heavy.share(np.zeros((0, 3))) as shared:
        assert shared.array.shape == (0, 3)
