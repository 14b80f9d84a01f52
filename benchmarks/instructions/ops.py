"""Operations counted by run.sh under callgrind: python ops.py <read|attr|cas|exec|begin5> <N>."""
import sys, theus
op, n = sys.argv[1], int(sys.argv[2])
s = theus.State({"domain": {f"k{i}": i for i in range(10)}})
e = theus.TheusEngine({"domain": {"counter": 0, "k": 1, "a": 1, "b": 2, "c": 3, "d": 4}})
@theus.process(inputs=["domain.counter"], outputs=["domain.counter"])
def inc(ctx):
    return ctx.domain.counter + 1
@theus.process(inputs=["domain.a", "domain.b", "domain.c", "domain.d", "domain.k"])
def look(ctx):
    return None
e.register(inc); e.register(look)
fd = e.state.domain
if op == "read":
    for _ in range(n): fd["k"]
elif op == "attr":
    for _ in range(n): fd.k
elif op == "cas":
    v = s.version
    for _ in range(n): v = s.compare_and_swap(v, {"domain.k1": v})
elif op == "exec":
    for _ in range(n): e.execute(inc)
elif op == "begin5":
    for _ in range(n): e.execute(look)
