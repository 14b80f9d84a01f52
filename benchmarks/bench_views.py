"""Read-path benchmarks of theus's views, each beside its plain-Python baseline.

Run:  python3 benchmarks/bench_views.py

It imports ``theus._core`` from the installed/built package. To measure a build that lives
elsewhere (e.g. a module built from pyproxy/ alone), put its directory first with
THEUS_BENCH_PATH=/path/to/dir (the directory that contains the ``theus`` package).

Figures are nanoseconds per operation: the median over many timeit rounds, the baseline and
the theus statement timed alternately in each round so machine load hits both alike. The
ratio is theus / baseline. Targets: fd["k"] and fd.k <= 1.3x dict["k"]; ctx.domain.x <=
SimpleNamespace ns.domain.x; FrozenList[i] <= 1.3x list[i]; iterating 1,000 items <= 1.5x the
list; building a context of 5 declared inputs < 1 us. Never collected by pytest; asserts
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

from theus import _core  # noqa: E402

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
    d = {"k": 1, "other": 2, "name": "x", "items": [1, 2, 3]}
    fd = _core._freeze(d)
    lst = list(range(1000))
    fl = _core._freeze(lst)
    values = {
        "domain.x": 1,
        "domain.counter": 0,
        "domain.user.name": "ada",
        "global.limit": 10,
        "heavy.blob": b"...",
    }
    ctx = _core._context(values, 3, {"outbox": []})
    ns = types.SimpleNamespace(domain=types.SimpleNamespace(x=1))
    env = {"d": d, "fd": fd, "lst": lst, "fl": fl, "ctx": ctx, "ns": ns, "values": values,
           "make": _core._context, "extras": {"outbox": []}}

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
    compare("context, 5 inputs + outbox", "make(values, 3, extras)", "dict(values) (a copy)", "dict(values)", env, 50_000)
    compare("context, 5 inputs", "make(values, 3, None)", "dict(values) (a copy)", "dict(values)", env, 50_000)


if __name__ == "__main__":
    main()
