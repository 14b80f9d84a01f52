"""The versioned state: commit cost against state size, compare_and_swap from Python, and RSS
over a million commits."""

from __future__ import annotations

import resource
import threading

from common import fmt, header, per_op, row

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

    branch_reads()

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
