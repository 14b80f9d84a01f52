"""fork, spawn, threads: theus in the process models Python users reach for."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import theus
from theus import State, TransactionError


def _run(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def test_forked_child_gets_a_clear_error_instead_of_hanging():
    proc = _run("""
        import os, sys
        import theus
        s = theus.State({"domain": {"x": 0}})
        s.compare_and_swap(0, {"domain.x": 1})
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                s.compare_and_swap(1, {"domain.x": 2})
                msg = "no error"
            except RuntimeError as e:
                msg = f"RuntimeError {e}"
            os.write(w, msg.encode())
            os._exit(0)
        os.close(w)
        out = os.read(r, 4096).decode()
        os.waitpid(pid, 0)
        print(out)
        print("parent", s.get("domain.x"))
    """, timeout=30)  # a hang in the child fails here (subprocess.TimeoutExpired)
    assert proc.returncode == 0, proc.stderr
    first, parent = proc.stdout.strip().splitlines()
    kind, _, message = first.partition(" ")
    assert kind == "RuntimeError", first
    assert "spawn" in message and "forkserver" in message
    assert parent == "parent 1"


def _spawn_worker(n: int) -> int:
    import theus as t

    s = t.State({"domain": {"x": n}})
    return s.compare_and_swap(0, {"domain.x": n + 1}) + s.get("domain.x")


def test_spawn_pool_imports_theus():
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        assert pool.map(_spawn_worker, [1, 2, 3]) == [3, 4, 5]


def test_commits_from_many_threads():
    s = State({"domain": {"counter": 0}})
    per_thread, threads = 2_000, 8
    commits = []

    def work():
        done = 0
        while done < per_thread:
            snap = s.snapshot()
            try:
                v = s.compare_and_swap(snap.version, {"domain.counter": snap["domain.counter"] + 1})
            except TransactionError:
                continue
            finally:
                snap.release()
            commits.append(v)
            done += 1

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert s.get("domain.counter") == per_thread * threads
    assert s.version == per_thread * threads
    assert sorted(commits) == list(range(1, per_thread * threads + 1))


def test_interpreter_shutdown_with_live_state_is_clean():
    proc = _run("""
        import theus
        s = theus.State({"domain": {"x": [1, 2]}})
        snap = s.snapshot()
        s.compare_and_swap(0, {"domain.x": 2})
        keep = (s, snap)
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok" and proc.stderr == ""
