"""Wall-clock of the hot operations for A/B runs of two builds in the same minutes, when the
machine's speed drifts between runs: run it alternately with each build first on PYTHONPATH,
e.g. `PYTHONPATH=/tmp/old .venv/bin/python benchmarks/ab.py` and `PYTHONPATH=/tmp/new ...`,
where each directory holds an installed `theus` package. Medians of 9 rounds."""

from __future__ import annotations

import statistics
import time

import theus

s = theus.State({"domain": {f"k{i}": i for i in range(10)}})
e = theus.TheusEngine({"domain": {"counter": 0}})


@theus.process(inputs=["domain.counter"], outputs=["domain.counter"])
def inc(ctx):
    return ctx.domain.counter + 1


e.register(inc)


def cas(n: int) -> None:
    v, c = s.version, s.compare_and_swap
    for i in range(n):
        v = c(v, {"domain.k5": i})


def execute(n: int) -> None:
    for _ in range(n):
        e.execute(inc)


def state(n: int) -> None:
    for _ in range(n):
        e.state


def main() -> None:
    out = {}
    for name, fn, n in (("compare_and_swap", cas, 20_000), ("execute", execute, 20_000), ("state", state, 50_000)):
        fn(n // 10)
        samples = []
        for _ in range(9):
            t0 = time.perf_counter()
            fn(n)
            samples.append((time.perf_counter() - t0) / n)
        out[name] = statistics.median(samples)
    print(f"{theus.__file__}: " + "  ".join(f"{k} {v * 1e9:.0f} ns" for k, v in out.items()))


if __name__ == "__main__":
    main()
