"""Operations counted by run.sh under callgrind: python ops.py <op> <N> runs op N times.

Each theus operation has a plain-Python baseline (the ops named base_*) that run.sh prints
beside it. Everything timed is what the public API hands out after real commits."""
import sys

import theus

op, n = sys.argv[1], int(sys.argv[2])
s = theus.State({"domain": {f"k{i}": i for i in range(10)}})
e = theus.TheusEngine({"domain": {"counter": 0, "k": 1, "a": 1, "b": 2, "c": 3, "d": 4}})
e.update({"domain.a": 1})  # the views below read state that went through a commit


@theus.process(inputs=["domain.counter"], outputs=["domain.counter"])
def inc(ctx):
    return ctx.domain.counter + 1


@theus.process(inputs=["domain.a", "domain.b", "domain.c", "domain.d", "domain.k"])
def look(ctx):
    return None


e.register(inc)
e.register(look)
fd = e.state.domain
d = {"counter": 0, "k": 1, "a": 1, "b": 2, "c": 3, "d": 4}
wf = e.load_workflow("steps:\n  - inc\n")
STEPS = "steps:\n" + "".join("  - inc\n" for _ in range(100))  # a 100-step workflow: per-step cost
wf100 = e.load_workflow(STEPS)
BIG = 10_000
big = {f"k{i}": i for i in range(BIG)}
if op in ("branch", "base_branch", "to_dict"):
    bs = theus.State({"domain": dict(big)})
    bs.get("domain")
    bfd = bs.get("domain")
    del bfd
if op in ("many", "base_many"):  # 100 paths into a 10k-key branch (the figure is per commit)
    keys = [f"k{i * 97 % BIG}" for i in range(100)]
    paths = [f"domain.{k}" for k in keys]
    ms = theus.State({"domain": dict(big)})
    if op == "base_many":
        import immutables
        m = immutables.Map(big)
if op == "read":
    for _ in range(n): fd["k"]
elif op == "base_read":
    for _ in range(n): d["k"]
elif op == "attr":
    for _ in range(n): fd.k
elif op == "get":
    for _ in range(n): fd.get("k")
elif op == "base_get":
    for _ in range(n): d.get("k")
elif op == "in":
    for _ in range(n): "k" in fd
elif op == "base_in":
    for _ in range(n): "k" in d
elif op == "items":
    for _ in range(n):
        for kv in fd.items(): pass
elif op == "base_items":
    for _ in range(n):
        for kv in d.items(): pass
elif op == "cas":
    v = s.version
    for _ in range(n): v = s.compare_and_swap(v, {"domain.k1": v})
elif op == "base_cas":  # the same write as a copy-on-write dict update with a version check
    v, cur = 0, {"domain": {f"k{i}": i for i in range(10)}}
    for _ in range(n):
        if v == v:
            cur = {**cur, "domain": {**cur["domain"], "k1": v}}
            v += 1
elif op == "exec":
    for _ in range(n): e.execute(inc)
elif op == "base_exec":  # the process called by hand on a namespace, its result stored
    import types
    ctx = types.SimpleNamespace(domain=types.SimpleNamespace(counter=0))
    for _ in range(n): ctx.domain.counter = inc(ctx)
elif op == "fetch":  # the state fetched and a key read: engine.state.domain["k"]
    for _ in range(n): e.state.domain["k"]
elif op == "base_fetch":
    import types
    for _ in range(n): types.MappingProxyType(d)["k"]
elif op == "state":
    for _ in range(n): e.state
elif op == "base_state":  # the read-only view of a mapping
    import types
    for _ in range(n): types.MappingProxyType(d)
elif op == "flux100":  # per 100 steps of a loaded Workflow (compare with exec100)
    for _ in range(n): wf100.run(e)
elif op == "fluxtext":  # per 100 steps, the same YAML string passed again (its parse is cached)
    for _ in range(n): e.execute_workflow(STEPS)
elif op == "exec100":  # the 100 processes of flux100 called directly
    for _ in range(n):
        for _ in range(100): e.execute("inc")
elif op == "begin5":
    for _ in range(n): e.execute(look)
elif op == "flux":
    for _ in range(n): wf.run(e)
elif op == "branch":  # a whole 10k-key branch read right after a one-key change
    v = bs.version
    for i in range(n):
        v = bs.compare_and_swap(v, {"domain.k5": i})
        bs.get("domain")
elif op == "many":
    v = ms.version
    for i in range(n): v = ms.compare_and_swap(v, {p: i for p in paths})
elif op == "base_many":  # immutables.Map.update of the same 100 keys
    for i in range(n): m.update({k: i for k in keys})
elif op == "base_branch":
    for _ in range(n): dict(big)
elif op == "to_dict":
    bfd = bs.get("domain")
    for _ in range(n): bfd.to_dict()
