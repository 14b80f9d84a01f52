"""The context's contracts never fail silently.

- `ctx.domain` works when none of the declared paths under it has a value yet (depths 1-4):
  `.get(name, default)` (which the PathError text recommends), `in`, `len`, `to_dict()`.
- A process that catches the ContractViolationError its ctx raised and returns normally is
  not committed: the attempt is poisoned, sync or async, on any attempt of a retry loop.
- Every C method of the view and context types has a text signature (inspect.signature).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import types

import pytest

import theus
from theus import ContractViolationError, FrozenDict, FrozenList, TheusEngine, TheusError, process
from theus._core import Context, ScopedView, _context, _freeze
from theus.errors import PathError

# ---- declared paths without a value ----

ABSENT = [
    # (declared input, initial domain, parent path of the leaf, leaf name)
    ("domain.counter", {}, "domain", "counter"),
    ("domain.a.counter", {}, "domain.a", "counter"),
    ("domain.a.b.counter", {}, "domain.a.b", "counter"),
    ("domain.a.b.c.counter", {}, "domain.a.b.c", "counter"),
    ("domain.a.counter", {"a": {}}, "domain.a", "counter"),
    ("domain.a.b.counter", {"a": {}}, "domain.a.b", "counter"),
    ("domain.a.b.c.counter", {"a": {"b": {}}}, "domain.a.b.c", "counter"),
    ("domain.a.b.c.counter", {"other": 1}, "domain.a.b.c", "counter"),
]


def _walk(ctx, dotted, items=False):
    node = ctx
    for part in dotted.split("."):
        node = node[part] if items else getattr(node, part if part != "global" else "global_")
    return node


def _expected_tree(parent):
    tree = {}
    node = tree
    for part in parent.split(".")[1:]:
        node[part] = {}
        node = node[part]
    return tree


@pytest.mark.parametrize("items", [False, True], ids=["attr", "item"])
@pytest.mark.parametrize("path, domain, parent, leaf", ABSENT, ids=[f"{a[0]}-{len(a[1])}" for a in ABSENT])
def test_absent_declared_paths_can_be_read_with_get(path, domain, parent, leaf, items):
    engine = TheusEngine({"domain": dict(domain), "global": {}})
    seen = {}

    @process(inputs=[path], outputs=[path])
    def bump(ctx):
        seen["zone in ctx"] = "domain" in ctx
        node = _walk(ctx, parent, items)
        seen["type"] = type(node)
        seen["leaf in"] = leaf in node
        seen["len"] = len(node)
        seen["to_dict"] = ctx.domain.to_dict()
        try:
            getattr(node, leaf) if not items else node[leaf]
        except PathError as e:
            seen["leaf error"] = str(e)
        return node.get(leaf, 0) + 1

    engine.execute(bump)
    assert seen["zone in ctx"] is True
    assert seen["type"] is ScopedView
    assert seen["leaf in"] is False and seen["len"] == 0
    assert seen["to_dict"] == _expected_tree(parent)
    assert "declared, but" in seen["leaf error"] and path in seen["leaf error"]
    assert engine.state[path] == 1
    seen.clear()
    engine.execute(bump)  # now present: read as a value
    assert engine.state[path] == 2 and "leaf error" not in seen and seen["leaf in"] is True
    engine.close()


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_absent_paths_in_another_zone(depth):
    path = "global." + ".".join(f"k{i}" for i in range(depth))
    engine = TheusEngine({"domain": {}, "global": {}})
    seen = {}

    @process(inputs=[path], outputs=[])
    def look(ctx):
        seen["in"] = "global" in ctx
        node = ctx.global_ if depth > 0 else None
        for i in range(depth - 1):
            node = getattr(node, f"k{i}")
        seen["get"] = node.get(f"k{depth - 1}", "dflt")
        seen["item"] = ctx["global"].get("k0", "dflt") if depth == 1 else "dflt"

    engine.execute(look)
    assert seen == {"in": True, "get": "dflt", "item": "dflt"}
    engine.close()


def test_an_undeclared_sibling_of_an_absent_path_is_still_a_violation():
    engine = TheusEngine({"domain": {}})

    @process(inputs=["domain.a.b.c"], outputs=[])
    def peek(ctx):
        return ctx.domain.a.other

    with pytest.raises(ContractViolationError, match="domain.a.other"):
        engine.execute(peek)
    engine.close()


def test_absent_paths_through_the_context_hook():
    ctx = _context({}, 0)  # nothing declared
    assert "domain" not in ctx
    with pytest.raises(ContractViolationError):
        ctx.domain


# ---- poisoned attempts ----

UNDECLARED_READS = [
    ("attr-depth1", lambda ctx: ctx.domain.secret, "domain.secret"),
    ("item-depth1", lambda ctx: ctx.domain["secret"], "domain.secret"),
    ("get-depth1", lambda ctx: ctx.domain.get("secret", 0), "domain.secret"),
    ("fallback-depth1", lambda ctx: ctx.domain.secret_, "domain.secret_"),
    ("attr-depth2", lambda ctx: ctx.domain.user.age, "domain.user.age"),
    ("item-depth2", lambda ctx: ctx.domain["user"]["age"], "domain.user.age"),
    ("attr-depth3", lambda ctx: ctx.domain.a.b.zz, "domain.a.b.zz"),
    ("attr-depth4", lambda ctx: ctx.domain.a.b.c.zz, "domain.a.b.c.zz"),
    ("zone-attr", lambda ctx: ctx.global_, "global"),
    ("zone-item", lambda ctx: ctx["heavy"], "heavy"),
    ("getattr-default", lambda ctx: getattr(ctx.domain, "secret", None), "domain.secret"),
    ("hasattr", lambda ctx: hasattr(ctx.domain, "secret"), "domain.secret"),
]

CATCHES = [ContractViolationError, TheusError, Exception]

INPUTS = ["domain.counter", "domain.user.name", "domain.a.b.c.d"]


def _engine():
    return TheusEngine({
        "domain": {"counter": 0, "secret": "s", "user": {"name": "ada", "age": 36}, "a": {"b": {"c": {"d": 1}}}},
        "global": {"g": 1},
        "heavy": {"h": b"x"},
    })


@pytest.mark.parametrize("catch", CATCHES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case_id, read, path", UNDECLARED_READS, ids=[c[0] for c in UNDECLARED_READS])
def test_a_caught_violation_poisons_a_sync_attempt(case_id, read, path, catch):
    engine = _engine()
    calls = []

    @process(inputs=INPUTS, outputs=["domain.counter"])
    def sneaky(ctx):
        calls.append(1)
        try:
            read(ctx)
        except catch:
            pass
        return ctx.domain.counter + 1

    with pytest.raises(ContractViolationError) as info:
        engine.execute(sneaky)
    msg = str(info.value)
    assert "sneaky" in msg and f"ctx.{path}" in msg and "nothing was committed" in msg
    assert engine.state.version == 0 and engine.state.domain.counter == 0
    assert calls == [1]  # a poisoned attempt is not retried
    engine.close()


@pytest.mark.parametrize("case_id, read, path", UNDECLARED_READS, ids=[c[0] for c in UNDECLARED_READS])
@pytest.mark.parametrize("runner", ["execute_async", "execute"])
def test_a_caught_violation_poisons_an_async_attempt(case_id, read, path, runner):
    engine = _engine()

    @process(inputs=INPUTS, outputs=["domain.counter"])
    async def sneaky(ctx):
        await asyncio.sleep(0)
        try:
            read(ctx)
        except ContractViolationError:
            pass
        await asyncio.sleep(0)
        return ctx.domain.counter + 1

    with pytest.raises(ContractViolationError, match=f"ctx.{path}"):
        if runner == "execute":
            engine.execute(sneaky)
        else:
            asyncio.run(engine.execute_async(sneaky))
    assert engine.state.version == 0
    engine.close()


def test_a_sync_process_run_by_execute_async_is_poisoned_too():
    engine = _engine()

    @process(inputs=INPUTS, outputs=["domain.counter"])
    def sneaky(ctx):
        try:
            ctx.domain.secret
        except ContractViolationError:
            pass
        return 5

    with pytest.raises(ContractViolationError, match="ctx.domain.secret"):
        asyncio.run(engine.execute_async(sneaky))
    assert engine.state.domain.counter == 0
    engine.close()


@pytest.mark.parametrize("runner", ["execute", "execute_async"])
def test_a_retried_attempt_is_checked_again(runner):
    engine = _engine()
    attempts = []

    @process(inputs=INPUTS, outputs=["domain.counter"], retries=3)
    def racy(ctx):
        attempts.append(ctx.version)
        if len(attempts) == 1:
            engine.update({"domain.counter": 10})  # makes this attempt conflict
            return ctx.domain.counter + 1
        try:
            ctx.domain.secret  # the retry reads outside its contract and hides it
        except ContractViolationError:
            pass
        return ctx.domain.counter + 1

    with pytest.raises(ContractViolationError, match="ctx.domain.secret"):
        if runner == "execute":
            engine.execute(racy)
        else:
            asyncio.run(engine.execute_async(racy))
    assert len(attempts) == 2  # the first attempt conflicted, the second was poisoned
    assert engine.state.domain.counter == 10  # only the update committed
    engine.close()


def test_poisoned_attempt_drops_its_outbox_messages():
    engine = _engine()

    @process(inputs=INPUTS, outputs=["domain.counter"], semantic="effect")
    def noisy(ctx):
        ctx.outbox.add("topic", {"n": 1})
        try:
            ctx.domain.secret
        except ContractViolationError:
            pass
        return 1

    with pytest.raises(ContractViolationError):
        engine.execute(noisy)
    delivered = []
    assert engine.process_outbox(delivered.append) == 0 and delivered == []
    engine.close()


def test_a_caught_path_error_does_not_poison():
    engine = TheusEngine({"domain": {}})

    @process(inputs=["domain.maybe"], outputs=["domain.maybe"])
    def careful(ctx):
        try:
            ctx.domain.maybe
        except PathError:
            return 1
        return 2

    engine.execute(careful)
    assert engine.state.domain.maybe == 1
    engine.close()


def test_a_re_raised_violation_passes_through_unchanged():
    engine = _engine()
    raised = []

    @process(inputs=INPUTS, outputs=["domain.counter"])
    def loud(ctx):
        try:
            ctx.domain.secret
        except ContractViolationError as e:
            raised.append(e)
            raise

    with pytest.raises(ContractViolationError) as info:
        engine.execute(loud)
    assert info.value is raised[0]
    engine.close()


def test_the_next_attempt_is_clean_and_old_views_cannot_poison_it():
    engine = _engine()
    kept = []

    @process(inputs=INPUTS, outputs=["domain.counter"])
    def keep(ctx):
        kept.append(ctx.domain)
        return ctx.domain.counter + 1

    engine.execute(keep)
    with pytest.raises(ContractViolationError):
        kept[0].secret  # a view of the finished attempt
    engine.execute(keep)  # a new attempt, a new record
    assert engine.state.domain.counter == 2
    engine.close()


def test_the_first_violation_is_named():
    ctx = _context({"domain.x": 1}, 0)
    assert ctx.__check_contract__() is None
    for name in ("first", "second"):
        with pytest.raises(ContractViolationError):
            getattr(ctx.domain, name)
    with pytest.raises(ContractViolationError, match=r"ctx\.domain\.first") as info:
        ctx.__check_contract__("proc")
    assert str(info.value).startswith("proc: ") and "second" not in str(info.value)
    with pytest.raises(TypeError):
        ctx.__check_contract__(1, 2)


def test_membership_tests_do_not_poison():
    engine = _engine()

    @process(inputs=INPUTS, outputs=["domain.counter"])
    def probe(ctx):
        assert "secret" not in ctx.domain and "global" not in ctx
        assert ctx.domain.user.get("name") == "ada"
        return 7

    engine.execute(probe)
    assert engine.state.domain.counter == 7
    engine.close()


# ---- text signatures ----

def _fd():
    return _freeze({"a": 1})


TYPES = {
    "FrozenDict": FrozenDict,
    "FrozenList": FrozenList,
    "FrozenDictKeys": type(_fd().keys()),
    "FrozenDictValues": type(_fd().values()),
    "FrozenDictItems": type(_fd().items()),
    "FrozenDictIterator": type(iter(_fd())),
    "FrozenListIterator": type(iter(_freeze([1]))),
    "ScopedView": ScopedView,
    "Context": Context,
}


def _c_methods():
    for tname, tp in TYPES.items():
        for name, obj in vars(tp).items():
            if isinstance(obj, (types.MethodDescriptorType, types.ClassMethodDescriptorType)):
                yield tname, name


C_METHODS = list(_c_methods())


@pytest.mark.parametrize("tname, name", C_METHODS, ids=[f"{t}.{n}" for t, n in C_METHODS])
def test_every_c_method_has_a_signature(tname, name):
    meth = getattr(TYPES[tname], name)
    sig = inspect.signature(meth)
    assert meth.__text_signature__ is not None
    assert list(sig.parameters)[:1] == (["item"] if name == "__class_getitem__" else ["self"])
    assert "--" not in meth.__doc__  # the signature block was parsed off the docstring


SIGNATURES = [
    (FrozenDict.get, "(self, key, default=None, /)"),
    (FrozenDict.keys, "(self, /)"),
    (FrozenDict.to_dict, "(self, /)"),
    (FrozenDict.__deepcopy__, "(self, memo, /)"),
    (FrozenDict.__reduce_ex__, "(self, protocol, /)"),
    (FrozenDict.update, "(self, /, *args, **kwargs)"),
    (FrozenList.index, f"(self, value, start=0, stop={sys.maxsize}, /)"),
    (FrozenList.count, "(self, value, /)"),
    (FrozenList.append, "(self, /, *args, **kwargs)"),
    (type(_fd().keys()).isdisjoint, "(self, other, /)"),
    (ScopedView.get, "(self, name, default=None, /)"),
    (ScopedView.items, "(self, /)"),
    (Context.__check_contract__, "(self, process=None, /)"),
    (Context.__reduce__, "(self, /)"),
]


@pytest.mark.parametrize("meth, expected", SIGNATURES, ids=[m.__qualname__ for m, _ in SIGNATURES])
def test_signatures_name_the_arguments(meth, expected):
    assert str(inspect.signature(meth)) == expected


def test_bound_signatures_drop_self():
    assert str(inspect.signature(_fd().get)) == "(key, default=None, /)"
    assert str(inspect.signature(_freeze([1]).index)) == f"(value, start=0, stop={sys.maxsize}, /)"
    ctx = _context({"domain.x": 1}, 0)
    assert str(inspect.signature(ctx.domain.to_dict)) == "()"
    assert str(inspect.signature(theus._core.FrozenDict.__class_getitem__)) == "(item, /)"
