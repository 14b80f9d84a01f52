"""A process start reads its declared paths in one crossing and its context is built after
it (in the core's C shim, or in Go for plans too large for the shim's room): every declared
value is there, branches read as dicts, and nothing it pins or builds leaks."""
import gc
import sys
import threading

import pytest

import theus


def _engine(n):
    return theus.TheusEngine({"domain": {f"k{i}": f"value-{i}" for i in range(n)} | {"sub": {"a": 1, "b": [2]}}})


@pytest.mark.parametrize("n", [1, 5, 31, 32, 33, 80])
def test_every_declared_path_reads_its_committed_value(n):
    e = _engine(n)
    inputs = [f"domain.k{i}" for i in range(n)]

    @theus.process(inputs=inputs, outputs=["domain.total"])
    def total(ctx):
        return sum(len(getattr(ctx.domain, f"k{i}")) for i in range(n))

    e.register(total)
    assert e.execute(total) == sum(len(f"value-{i}") for i in range(n))
    assert e.state.domain.total == sum(len(f"value-{i}") for i in range(n))


def test_branch_inputs_read_as_views_of_the_branch_and_release_their_dicts():
    e = _engine(3)

    @theus.process(inputs=["domain.sub", "domain.missing", "domain.k0"], outputs=["domain.seen"])
    def look(ctx):
        return [sorted(ctx.domain.sub), ctx.domain.sub["b"][0], ctx.domain.k0]

    e.register(look)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(200):
        assert e.execute(look) == [["a", "b"], 2, "value-0"]
    gc.collect()
    assert len(gc.get_objects()) - before < 50  # nothing per call survives


def test_reference_counts_of_read_values_are_unchanged_after_many_starts():
    e = theus.TheusEngine({"domain": {"x": "v" * 64, "n": 0}})

    @theus.process(inputs=["domain.x"], outputs=["domain.n"])
    def read(ctx):
        return len(ctx.domain.x)

    e.register(read)
    e.execute(read)
    value = e.state["domain.x"]  # a path read: no branch dict built (that one lives on with its branch)
    gc.collect()
    base = sys.getrefcount(value)
    for _ in range(500):
        e.execute(read)
    gc.collect()
    assert sys.getrefcount(value) == base


@pytest.mark.parametrize("width", [4, 40])
def test_starts_racing_large_commits_see_consistent_values(width):
    # Commits of 40 paths run without the GIL: a start on another thread may unpin the version
    # whose values it just read; those values must stay alive until its context holds them.
    e = theus.TheusEngine({"domain": {f"k{i}": f"s{i}-0" for i in range(width)}})
    paths = [f"domain.k{i}" for i in range(width)]

    seen_versions = []

    @theus.process(inputs=paths)
    def check(ctx):  # reads only: never conflicts with the writer
        seen = {getattr(ctx.domain, f"k{i}").split("-")[1] for i in range(width)}
        seen_versions.append(len(seen) == 1)  # one version: every key from the same commit

    e.register(check)
    stop = threading.Event()

    def writer():
        r = 0
        while not stop.is_set():
            r += 1
            e.update({p: f"s{i}-{r}" for i, p in enumerate(paths)})

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(300):
            e.execute(check)
    finally:
        stop.set()
        t.join()
    results = seen_versions
    assert len(results) == 300
    assert all(results)


def test_branch_dicts_built_for_starts_are_freed_with_their_branch():
    marker = "".join(["m" * 48, "-inside-sub"])
    base = sys.getrefcount(marker)
    e = theus.TheusEngine({"domain": {"sub": {"a": marker}}})

    @theus.process(inputs=["domain.sub"], outputs=["domain.n"])
    def look(ctx):
        return len(ctx.domain.sub["a"])

    e.register(look)
    for _ in range(100):
        assert e.execute(look) == len(marker)
    e.update({"domain.sub": {"a": "other"}})
    e.update({"domain.n": 0})  # the next commit settles what the last one replaced
    gc.collect()
    assert sys.getrefcount(marker) == base
