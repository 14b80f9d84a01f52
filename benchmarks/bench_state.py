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
