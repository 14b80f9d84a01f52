"""`import theus` leaves the costly standard modules (typing, inspect, dataclasses, re, asyncio,
logging, ...) unimported until a feature needs them, and the public names still behave as
before once they are used. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# what `import theus` must not import: together they cost more than theus itself
DEFERRED = ("typing", "inspect", "dataclasses", "re", "enum", "contextlib", "ast", "dis", "tokenize",
            "linecache", "asyncio", "logging", "importlib.util")


def _fresh(code: str) -> dict:
    """Run code in a new interpreter and return the JSON it prints last."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_theus_leaves_the_costly_modules_unimported() -> None:
    got = _fresh(f"""
        import json, sys
        before = set(sys.modules)
        import theus
        print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules and m not in before]))
    """)
    assert got == []


def test_the_public_names_work_after_a_bare_import() -> None:
    got = _fresh("""
        import dataclasses, json, pickle, sys
        import theus
        from theus import Context, RetryPolicy, process

        @process(inputs=["domain.n"], outputs=["domain.n"])
        def bump(ctx):
            return ctx.domain.n + 1

        @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(max_attempts=2, jitter=False,
                                                                              initial_delay=0))
        def flaky(ctx, seen=[]):
            seen.append(1)
            if len(seen) == 1:
                raise TimeoutError("once")
            return ctx.domain.n * 10

        @dataclasses.dataclass
        class Order:
            n: int = 0

        engine = theus.TheusEngine({"domain": {"n": 1}}, schema={"domain": Order})
        engine.register(bump)
        engine.execute(bump)
        engine.execute(flaky)
        events = []
        engine.execute_workflow("steps:\\n  - bump\\n", on_event=events.append)
        policy = RetryPolicy(max_attempts=3)
        try:
            policy.max_attempts = 4
            frozen = None
        except dataclasses.FrozenInstanceError as e:
            frozen = str(e)
        record = engine.history()[-1] if engine.history() else None
        print(json.dumps({
            "n": engine.state.domain.n,
            "event": [type(events[0]).__name__, events[0]._fields] if events else None,
            "replace": repr(dataclasses.replace(policy, jitter=False)),
            "fields": [f.name for f in dataclasses.fields(RetryPolicy)],
            "equal": policy == RetryPolicy(max_attempts=3) and hash(policy) == hash(RetryPolicy(max_attempts=3)),
            "pickled": pickle.loads(pickle.dumps(policy)) == policy,
            "frozen": frozen,
            "context": [Context.__module__, Context[Order].__origin__ is Context],
            "change": theus.Change("added", "domain.n", None, 1)._replace(kind="changed")._asdict(),
            "typing": "typing" in sys.modules,
        }))
    """)
    assert got["n"] == 21
    assert got["event"] == ["Event", ["kind", "step", "time", "data"]]
    assert got["replace"] == ("RetryPolicy(max_attempts=3, initial_delay=0.5, backoff=2.0, max_delay=30.0, "
                              "jitter=False, retry_on=(<class 'Exception'>,))")
    assert got["fields"] == ["max_attempts", "initial_delay", "backoff", "max_delay", "jitter", "retry_on"]
    assert got["equal"] and got["pickled"]
    assert got["frozen"] == "cannot assign to field 'max_attempts'"
    assert got["context"] == ["theus.schema", True]
    assert got["change"] == {"kind": "changed", "path": "domain.n", "old": None, "new": 1}
    assert got["typing"]  # used now: imported
