"""Read-path benchmarks of theus's views, each beside its plain-Python baseline.

Run:  python3 benchmarks/bench_views.py

It times the views the installed package hands out (engine.state after real commits, the ctx a
process receives). To measure a build that lives elsewhere, put its directory first with
THEUS_BENCH_PATH=/path/to/dir (the directory that contains the ``theus`` package).

Figures are nanoseconds per operation: the median over many timeit rounds, the baseline and
the theus statement timed alternately in each round so machine load hits both alike. The
ratio is theus / baseline. Targets: fd["k"], fd.k, "k" in fd and items() <= 1.3x the dict;
fd.get("k") <= 1.5x dict.get; ctx.domain.x <=
SimpleNamespace ns.domain.x; FrozenList[i] <= 1.3x list[i]; iterating 1,000 items <= 1.5x the
list; engine.execute of a process with 5 declared inputs that writes nothing < 3 us. Never collected by pytest; asserts
nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import timeit
import types

if os.environ.get("THEUS_BENCH_PATH"):
    sys.path.insert(0, os.environ["THEUS_BENCH_PATH"])

from theus import TheusEngine, process  # noqa: E402

ROUNDS = 51


def compare(name: str, stmt: str, base_name: str, base_stmt: str, env: dict, number: int) -> None:
    theus_t = timeit.Timer(stmt, globals=env)
    base_t = timeit.Timer(base_stmt, globals=env)
    theus_runs, base_runs = [], []
    for _ in range(ROUNDS):
        base_runs.append(base_t.timeit(number) / number * 1e9)
        theus_runs.append(theus_t.timeit(number) / number * 1e9)
    t, b = statistics.median(theus_runs), statistics.median(base_runs)
    print(f"{name:<30} {t:9.1f} ns   {base_name:<24} {b:9.1f} ns   x{t / b:5.2f}")


def main() -> None:
    # Everything timed is what the public API hands out after real commits: the FrozenDict and
    # FrozenList of engine.state, the ctx a process receives, engine.execute itself.
    lst = list(range(1000))
    d = {"k": 1, "other": 2, "name": "x", "items": [1, 2, 3], "x": 1, "counter": 0, "user": {"name": "ada"}}
    engine = TheusEngine({"domain": {**d, "lst": lst}, "global": {"limit": 10}, "heavy": {"blob": b"..."}})
    engine.update({"domain.other": 3})
    engine.update({"domain.other": 2})
    fd = engine.state.domain
    fl = fd.lst
    inputs = ["domain.x", "domain.counter", "domain.user.name", "global.limit", "heavy.blob"]
    held = []

    @process(inputs=inputs, semantic="effect")
    def effect5(ctx):
        return None

    @process(inputs=inputs, semantic="pure")
    def pure5(ctx):
        return None

    @process(inputs=inputs)
    def capture(ctx):
        held.append(ctx)

    for p in (effect5, pure5, capture):
        engine.register(p)
    engine.execute(capture)
    ctx = held[0]
    ns = types.SimpleNamespace(domain=types.SimpleNamespace(x=1))
    values = {"domain": {"x": 1, "counter": 0, "user": {"name": "ada"}}, "global": {"limit": 10}, "heavy": {"blob": b"..."}}

    def by_hand() -> None:  # the same five values as a namespace, built and passed by hand
        pure5(types.SimpleNamespace(**{z: types.SimpleNamespace(**v) for z, v in values.items()}))

    env = {"d": d, "fd": fd, "lst": lst, "fl": fl, "ctx": ctx, "ns": ns, "engine": engine,
           "effect5": effect5, "pure5": pure5, "by_hand": by_hand}

    n = 500_000
    print(f"python {sys.version.split()[0]}, median of {ROUNDS} alternating rounds\n")
    print(f"{'theus':<30} {'':>12}   {'baseline':<24}")
    compare('fd["k"]', 'fd["k"]', 'dict["k"]', 'd["k"]', env, n)
    compare("fd.k", "fd.k", 'dict["k"]', 'd["k"]', env, n)
    compare('fd.get("k")', 'fd.get("k")', 'dict.get("k")', 'd.get("k")', env, n)
    compare("ctx.domain.x", "ctx.domain.x", "ns.domain.x", "ns.domain.x", env, n)
    compare("fl[500]", "fl[500]", "list[500]", "lst[500]", env, n)
    compare("fl[-1]", "fl[-1]", "list[-1]", "lst[-1]", env, n)
    compare("for x in fl (1,000 items)", "for x in fl: pass", "for x in list", "for x in lst: pass", env, 2_000)
    compare("len(fd)", "len(fd)", "len(dict)", "len(d)", env, n)
    compare('"k" in fd', '"k" in fd', '"k" in dict', '"k" in d', env, n)
    compare("for kv in fd.items() (7)", "for kv in fd.items(): pass", "for kv in dict.items()",
            "for kv in d.items(): pass", env, 100_000)
    compare("execute, 5 inputs + outbox", "engine.execute(effect5)", "namespace ctx by hand", "by_hand()", env, 50_000)
    compare("execute, 5 inputs", "engine.execute(pure5)", "namespace ctx by hand", "by_hand()", env, 50_000)


if __name__ == "__main__":
    main()
