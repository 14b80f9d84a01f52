"""Flux workflows: stepper overhead per process step beyond a Python loop of engine.execute,
a 10,000-iteration while loop against Python while loops, and the cost of one condition."""

from __future__ import annotations

import statistics
import time

from common import fmt, header, per_op, row

from theus import TheusEngine, process

PREVIOUS_RUST_STEP_S = 500e-6  # published per-step figure of the Rust implementation
TARGET_STEP_OVERHEAD_S = 2e-6
TARGET_CONDITION_S = 1e-6


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


def _engine() -> TheusEngine:
    engine = TheusEngine({"domain": {"counter": 0}})
    engine.register(increment)
    return engine


def _interleaved(runs, reset, repeats: int) -> list[float]:
    """Median seconds of each of runs, taken in turn so that drift in machine load hits all of
    them alike; reset() (untimed) before each; one warm-up round."""
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats + 1):
        for run, out in zip(runs, samples):
            reset()
            t0 = time.perf_counter()
            run()
            out.append(time.perf_counter() - t0)
    return [statistics.median(s[1:]) for s in samples]


def bench_linear() -> None:
    steps = 100
    header(f"linear workflow of {steps} increment steps, per step")
    engine = _engine()
    wf = engine.load_workflow("steps:\n" + "  - increment\n" * steps)

    def run_workflow() -> None:
        for _ in range(10):
            wf.run(engine)

    def run_loop() -> None:
        execute = engine.execute
        for _ in range(10):
            for _ in range(steps):
                execute(increment)

    t_wf, t_loop = (t / (10 * steps) for t in _interleaved([run_workflow, run_loop], lambda: None, 101))
    overhead = t_wf - t_loop
    row("workflow step (wf.run, parsed once)", t_wf, "engine.execute in a Python loop", t_loop)
    print(f"  stepper overhead per step: {fmt(overhead).strip()} "
          f"(target under {fmt(TARGET_STEP_OVERHEAD_S).strip()})")
    row("workflow step (wf.run, parsed once)", t_wf, "previous Rust impl (published)", PREVIOUS_RUST_STEP_S)


def bench_while() -> None:
    n = 10_000
    header(f"while domain.counter < {n:,}: increment, per iteration")
    engine = _engine()
    wf = engine.load_workflow(
        "steps:\n"
        "  - flux: while\n"
        f"    condition: domain.counter < {n}\n"
        f"    max_iterations: {2 * n}\n"
        "    do: [increment]\n"
    )

    def reset() -> None:
        engine.update({"domain.counter": 0})

    def check() -> None:
        if engine.state["domain.counter"] != n:
            raise RuntimeError(f"counter ended at {engine.state['domain.counter']}, expected {n}")

    def run_workflow() -> None:
        wf.run(engine)
        check()

    def loop_zone_attr() -> None:
        execute = engine.execute
        while engine.state.domain.counter < n:
            execute(increment)
        check()

    def loop_path() -> None:
        execute = engine.execute
        while engine.state["domain.counter"] < n:
            execute(increment)
        check()

    def loop_return_value() -> None:
        execute = engine.execute
        counter = engine.state["domain.counter"]
        while counter < n:
            counter = execute(increment)
        check()

    runs = [run_workflow, loop_zone_attr, loop_path, loop_return_value]
    t_wf, t_attr, t_path, t_ret = (t / n for t in _interleaved(runs, reset, 7))
    row("flux while iteration", t_wf, "Python: state.domain.counter < N", t_attr)
    row("flux while iteration", t_wf, 'Python: state["domain.counter"]<N', t_path)
    row("flux while iteration", t_wf, "Python: counter = execute(inc)", t_ret)


def bench_conditions() -> None:
    n = 1000
    header(f"{n} `flux: if` steps, condition false (domain.counter < 0), then never runs")
    engine = _engine()
    block = "  - flux: if\n    condition: domain.counter < 0\n    then: [increment]\n"
    wf = engine.load_workflow("steps:\n" + block * n)
    wf_one = engine.load_workflow("steps:\n" + block)

    def run(w):
        def go(k: int) -> None:
            for _ in range(k):
                w.run(engine)
        return go

    t_run = per_op(run(wf), 20)
    t_one = per_op(run(wf_one), 2000)
    if engine.state["domain.counter"] != 0:
        raise RuntimeError("a `then` branch ran although its condition was false")
    in_stepper = statistics.median(e.duration for e in wf.last_run.trace)
    d = {"domain": {"counter": 0}}

    def py_dict(k: int) -> None:
        for _ in range(k):
            d["domain"]["counter"] < 0

    def py_snapshot(k: int) -> None:
        for _ in range(k):
            engine.state["domain.counter"] < 0

    t_dict = per_op(py_dict, 500_000)
    t_snap = per_op(py_snapshot, 20_000)
    per_cond = t_run / n
    marginal = (t_run - t_one) / (n - 1)
    target = f"(target under {fmt(TARGET_CONDITION_S).strip()})"
    row("condition, run time / 1000", per_cond, 'd["domain"]["counter"] < 0', t_dict, target)
    row("condition, (1000-step - 1-step run) / 999", marginal, 'd["domain"]["counter"] < 0', t_dict, target)
    row("condition, run time / 1000", per_cond, 'state["domain.counter"] < 0', t_snap)
    print(f"  run of a 1-step workflow: {fmt(t_one).strip()}; median condition duration in the "
          f"trace: {fmt(in_stepper).strip()}")


def main() -> None:
    bench_linear()
    bench_while()
    bench_conditions()


if __name__ == "__main__":
    main()
