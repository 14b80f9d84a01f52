"""Read-path benchmarks of theus's views, each beside its plain-Python baseline.

Run:  python3 benchmarks/bench_views.py

It imports ``theus._core`` from the installed/built package. To measure a build that lives
elsewhere (e.g. a module built from pyproxy/ alone), put its directory first with
THEUS_BENCH_PATH=/path/to/dir (the directory that contains the ``theus`` package).

Every figure is the median over many timeit repeats, in nanoseconds per operation. Targets:
fd["k"] and fd.k <= 1.3x dict["k"]; ctx.domain.x <= SimpleNamespace ns.domain.x;
FrozenList[i] <= 1.3x list[i]; iterating 1,000 items <= 1.5x the list; building a context of
5 declared inputs < 1 us. This script is never collected by pytest and asserts nothing.
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

REPEATS = 41


def median_ns(stmt: str, env: dict, number: int) -> float:
    timer = timeit.Timer(stmt, globals=env)
    runs = timer.repeat(repeat=REPEATS, number=number)
    return statistics.median(runs) / number * 1e9


def row(name: str, theus_ns: float, base_name: str, base_ns: float) -> None:
    ratio = theus_ns / base_ns if base_ns else float("nan")
    print(f"{name:<34} {theus_ns:9.1f} ns   {base_name:<26} {base_ns:9.1f} ns   x{ratio:5.2f}")


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
           "make": _core._context, "extras": {"outbox": []}, "empty": {}}

    n = 2_000_000
    print(f"python {sys.version.split()[0]}, median of {REPEATS} repeats\n")
    print(f"{'theus':<34} {'':>12}   {'baseline':<26}")
    row('fd["k"]', median_ns('fd["k"]', env, n), 'dict["k"]', median_ns('d["k"]', env, n))
    row("fd.k", median_ns("fd.k", env, n), 'dict["k"]', median_ns('d["k"]', env, n))
    row('fd.get("k")', median_ns('fd.get("k")', env, n), 'dict.get("k")', median_ns('d.get("k")', env, n))
    row("ctx.domain.x", median_ns("ctx.domain.x", env, n), "ns.domain.x", median_ns("ns.domain.x", env, n))
    row("fl[500]", median_ns("fl[500]", env, n), "list[500]", median_ns("lst[500]", env, n))
    row("fl[-1]", median_ns("fl[-1]", env, n), "list[-1]", median_ns("lst[-1]", env, n))
    row("for x in fl (1,000 items)", median_ns("for x in fl: pass", env, 5_000),
        "for x in list", median_ns("for x in lst: pass", env, 5_000))
    row("len(fd)", median_ns("len(fd)", env, n), "len(dict)", median_ns("len(d)", env, n))
    row('"k" in fd', median_ns('"k" in fd', env, n), '"k" in dict', median_ns('"k" in d', env, n))
    row("context, 5 inputs", median_ns("make(values, 3, extras)", env, 200_000),
        "dict(values) (a copy)", median_ns("dict(values)", env, 200_000))
    row("context, 5 inputs, no extras", median_ns("make(values, 3, None)", env, 200_000),
        "dict(values) (a copy)", median_ns("dict(values)", env, 200_000))


if __name__ == "__main__":
    main()
