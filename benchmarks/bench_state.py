"""The versioned state: commit cost against state size, compare_and_swap from Python, and RSS
over a million commits."""

from __future__ import annotations

import resource
import subprocess
import sys
import threading

import immutables

from common import fmt, header, per_op, row

LEAVES = 1_000_000
# Bytes per small leaf, measured in a fresh interpreter: RSS grown by holding 1M int leaves
# under str keys ("k0".."k999999"), the building dict dropped. The ints are held either way.
# Layout "apart" builds all keys, then all values: the keys a store copies and drops free whole
# pymalloc pools. Layout "interleaved" builds them in turns ({f"k{i}": i ...}): a dropped key
# then shares its pool with a kept int and its memory stays with the process, charged to
# whichever store copied the key instead of keeping it (theus copies keys into Go).
_MEMORY_CHILD = """
import gc, os, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
import immutables, theus
kind, layout, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
gc.collect()
before = rss()
if layout == "apart":
    keys = [f"k{i}" for i in range(n)]
    values = list(range(n))
    d = dict(zip(keys, values))
    del keys, values
else:
    d = {f"k{i}": i for i in range(n)}
if kind == "theus":
    held = theus.State({"domain": d})
elif kind == "immutables":
    held = immutables.Map(d)
else:
    held = d
del d
gc.collect()
print((rss() - before) / n)
"""

from theus import State


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def commit_loop(state: State, key: str):
    box = [state.version]

    def run(n: int) -> None:
        v = box[0]
        cas = state.compare_and_swap
        for i in range(n):
            v = cas(v, {key: i})
        box[0] = v

    return run


def one_path_against_immutables(t_small: float) -> None:
    """The one-path compare_and_swap beside immutables.Map.set of one key (a persistent map,
    no version check and no history)."""
    m = immutables.Map({f"k{i}": i for i in range(10)})

    def imm_set(n: int) -> None:
        x = m
        for i in range(n):
            x = x.set("k5", i)

    t_imm = per_op(imm_set, 20_000)
    row("compare_and_swap, 1 path, 10 leaves", t_small, "immutables.Map.set, 10 keys", t_imm,
        f"(target <= 0.7 µs: {fmt(t_small).strip()})")


def many_paths() -> None:
    """A commit of 100 paths into a 10,000-key branch, per path, beside immutables.Map.update
    of the same 100 keys, per key."""
    header("commit 100 paths into a 10,000-key branch, per path")
    keys = [f"k{i * 97 % 10_000}" for i in range(100)]
    paths = [f"domain.{k}" for k in keys]  # each side builds its dict from ready-made keys
    s = State({"domain": {f"k{i}": i for i in range(10_000)}})
    box = [s.version]

    def commit_many(n: int) -> None:
        v = box[0]
        for i in range(n):
            v = s.compare_and_swap(v, {p: i for p in paths})
        box[0] = v

    m = immutables.Map({f"k{i}": i for i in range(10_000)})

    def imm_update(n: int) -> None:
        x = m
        for i in range(n):
            x = x.update({k: i for k in keys})

    t_s = per_op(commit_many, 200, repeats=9) / len(keys)
    t_m = per_op(imm_update, 200, repeats=9) / len(keys)
    row("100-path commit, per path", t_s, "immutables.Map.update, per key", t_m, "(target <= 3x)")


def bytes_per_leaf() -> None:
    """Bytes per small leaf (1M leaves), each kind and layout in a fresh interpreter."""
    header(f"bytes per small leaf, {LEAVES:,} int leaves, RSS of a fresh process")
    for layout in ("apart", "interleaved"):
        got = {}
        for kind in ("theus", "dict", "immutables"):
            out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, kind, layout, str(LEAVES)],
                                 capture_output=True, text=True, check=True)
            got[kind] = float(out.stdout.strip())
        for base in ("dict", "immutables"):
            print(f"  {'theus State, keys ' + layout:<44} {got['theus']:8.0f} B    {base:<34} "
                  f"{got[base]:8.0f} B    ratio {got['theus'] / got[base]:6.2f}x  (target <= 250 B)")


def branch_reads() -> None:
    """Whole-branch reads of a 100,000-key zone, each right after a one-key change, beside
    dict(d) of a dict of the same size; and to_dict() of that zone."""
    header("read a whole 100,000-key branch right after a one-key change")
    d = {f"k{i}": i for i in range(100_000)}
    s = State({"domain": dict(d)})
    s.get("domain")  # the branch's dict exists before the first change, as in a running program
    box = [s.version]

    def get_after_change(n: int) -> None:
        v = box[0]
        for i in range(n):
            v = s.compare_and_swap(v, {"domain.k5": i})
            s.get("domain")
        box[0] = v

    def copy(n: int) -> None:
        for _ in range(n):
            dict(d)

    t_copy = per_op(copy, 20, repeats=9)
    t_get = per_op(get_after_change, 20, repeats=9)
    row('get("domain") after a one-key commit', t_get, "dict(d), 100k keys", t_copy, "(target <= 2x)")

    held = s.get("domain")  # a view of the old version is alive while the next commit runs

    def get_while_held(n: int) -> None:
        nonlocal held
        v = box[0]
        for i in range(n):
            v = s.compare_and_swap(v, {"domain.k5": i})
            held = s.get("domain")
        box[0] = v

    t_held = per_op(get_while_held, 20, repeats=9)
    row("same, the previous view still held", t_held, "dict(d), 100k keys", t_copy, "(target <= 2x)")

    from theus import TheusEngine, process

    engine = TheusEngine({"domain": dict(d)})

    @process(inputs=["domain"])
    def read_zone(ctx):
        return None

    @process(inputs=["domain.k5"], outputs=["domain.k5"])
    def bump(ctx):
        return ctx.domain.k5 + 1

    engine.register(read_zone)
    engine.register(bump)
    engine.execute(read_zone)

    def execute_after_change(n: int) -> None:
        for _ in range(n):
            engine.execute(bump)
            engine.execute(read_zone)

    t_exec = per_op(execute_after_change, 20, repeats=9)
    row('process inputs=["domain"] after a change', t_exec, "dict(d), 100k keys", t_copy, "(target <= 2x)")

    fd = s.get("domain")

    def thaw(n: int) -> None:
        for _ in range(n):
            fd.to_dict()

    t_thaw = per_op(thaw, 20, repeats=9)
    row("to_dict(), 100k flat keys", t_thaw, "dict(d), 100k keys", t_copy, "(target <= 2x)")


def main() -> None:
    header("commit one path (State.compare_and_swap)")
    small = State({"domain": {f"k{i}": i for i in range(10)}})
    big = State({"domain": {f"k{i}": i for i in range(100_000)}})
    t_small = per_op(commit_loop(small, "domain.k5"), 20_000)
    t_big = per_op(commit_loop(big, "domain.k5"), 20_000)
    d = {f"k{i}": i for i in range(100_000)}

    def cow(n: int) -> None:
        x = d
        for i in range(n):
            x = {**x, "k5": i}

    t_cow = per_op(cow, 20, repeats=7)
    row("commit into 100,000 leaves", t_big, "commit into 10 leaves", t_small, "(target <= 3x)")
    row("commit into 100,000 leaves", t_big, "copy-on-write {**d, k: v}, 100k", t_cow,
        f"(target: baseline >= 100x slower; it is {t_cow / t_big:.0f}x slower)")

    lock = threading.Lock()
    plain = {"version": 0, "domain": {"x": 0}}

    def plain_cas(n: int) -> None:
        for i in range(n):
            with lock:
                if plain["version"] != plain["version"]:
                    raise RuntimeError
                plain["domain"] = {**plain["domain"], "x": i}
                plain["version"] += 1

    t_plain = per_op(plain_cas, 20_000)
    row("compare_and_swap, 1 path", t_small, "Python lock + version check + dict", t_plain,
        f"(target 2 µs: {fmt(t_small).strip()})")
    one_path_against_immutables(t_small)

    many_paths()
    branch_reads()
    bytes_per_leaf()

    header("1,000,000 commits, RSS")
    s = State({"domain": {"x": 0, "items": [1, 2, 3]}})
    run = commit_loop(s, "domain.x")
    run(10_000)
    before = _rss_mb()
    marks = []
    for _ in range(10):
        run(100_000)
        marks.append(_rss_mb())
    print(f"  RSS after 10k warm-up commits: {before:.1f} MB; after each further 100k: "
          + ", ".join(f"{m:.1f}" for m in marks) + f" MB (growth {marks[-1] - before:+.1f} MB)")
    print(f"  kernel bookkeeping at the end: {s.stats()}")


if __name__ == "__main__":
    main()
