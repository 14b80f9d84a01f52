"""What users touch most, each beside the plain-Python baseline: engine.state, snap.domain,
State.get(path), an effect process that sends nothing, a Flux step beyond its process (a loaded
Workflow, and the same YAML string passed again), and import theus in a fresh interpreter."""

from __future__ import annotations

import statistics
import subprocess
import sys
import types

from common import header, per_op, row

from theus import TheusEngine, process

STEPS = 100


def bench_state_access() -> None:
    header("engine.state, snap.domain, State.get")
    engine = TheusEngine({"domain": {"counter": 0, "user": {"name": "ada"}}})
    data = {"domain": {"counter": 0}}
    proxy = types.MappingProxyType

    def state(n: int) -> None:
        e = engine
        for _ in range(n):
            e.state

    def mapping_proxy(n: int) -> None:
        for _ in range(n):
            proxy(data)

    row("engine.state", per_op(state, 50_000), "types.MappingProxyType(d)", per_op(mapping_proxy, 50_000), "(target <= 0.5 µs)")
    snap = engine.state
    snap.domain
    ns = types.SimpleNamespace(domain=data["domain"])

    def zone(n: int) -> None:
        s = snap
        for _ in range(n):
            s.domain

    def attr(n: int) -> None:
        s = ns
        for _ in range(n):
            s.domain

    row("snap.domain", per_op(zone, 200_000), "SimpleNamespace attribute", per_op(attr, 200_000), "(target <= 60 ns)")
    st = engine._state

    def get(n: int) -> None:
        g = st.get
        for _ in range(n):
            g("domain.user.name")

    nested = {"domain": {"user": {"name": "ada"}}}

    def dict_get(n: int) -> None:
        for _ in range(n):
            nested["domain"]["user"]["name"]

    row("State.get('domain.user.name')", per_op(get, 100_000), "d['domain']['user']['name']", per_op(dict_get, 100_000))


def bench_effect_without_messages() -> None:
    header("engine.execute: an effect process that sends nothing vs a pure one")
    engine = TheusEngine({"domain": {"counter": 0}})

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def effect(ctx):
        return ctx.domain.counter + 1

    @process(inputs=["domain.counter"], outputs=["domain.counter"], semantic="pure")
    def pure(ctx):
        return ctx.domain.counter + 1

    def run(p):
        def go(n: int) -> None:
            x = engine.execute
            for _ in range(n):
                x(p)
        return go

    row("execute(effect)", per_op(run(effect), 20_000), "execute(pure)", per_op(run(pure), 20_000))


def bench_flux_step() -> None:
    header(f"Flux step overhead beyond engine.execute ({STEPS} linear steps, per step)")
    engine = TheusEngine({"domain": {"counter": 0}})

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def inc(ctx):
        return ctx.domain.counter + 1

    engine.register(inc)
    text = "steps:\n" + "".join("  - inc\n" for _ in range(STEPS))
    wf = engine.load_workflow(text)

    def loaded(n: int) -> None:
        for _ in range(n):
            engine.execute_workflow(wf)

    def again(n: int) -> None:
        for _ in range(n):
            engine.execute_workflow(text)

    def direct(n: int) -> None:
        x = engine.execute
        for _ in range(n):
            for _ in range(STEPS):
                x("inc")

    base = per_op(direct, 30) / STEPS
    step_loaded = per_op(loaded, 30) / STEPS
    step_again = per_op(again, 30) / STEPS
    row("step of a loaded Workflow, beyond execute", step_loaded - base, "engine.execute('inc')", base, "(target <= 0.5 µs)")
    row("step of a YAML string passed again, beyond", step_again - base, "engine.execute('inc')", base, "(target <= 0.5 µs)")


def _import_time(module: str) -> float:
    samples = []
    for _ in range(7):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                             text=True, check=True)
        last = [line for line in out.stderr.splitlines() if line.rstrip().endswith(f"| {module}")][-1]
        samples.append(int(last.split("|")[1]) / 1e6)
    return statistics.median(samples)


def bench_import() -> None:
    header("import in a fresh interpreter (-X importtime, cumulative)")
    row("import theus", _import_time("theus"), "import json", _import_time("json"), "(target <= 15 ms)")


if __name__ == "__main__":
    bench_state_access()
    bench_effect_without_messages()
    bench_flux_step()
    bench_import()
