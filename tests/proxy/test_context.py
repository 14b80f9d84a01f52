"""The context a process receives: scoped reads, contract errors, zones, version, extras."""

from __future__ import annotations

import copy
import gc
import pickle

import pytest

from theus._core import Context, FrozenDict, FrozenList, ScopedView, _context
from theus.errors import ContextError, ContractViolationError, TheusError

FIX = "return the new value from the process and declare its path in outputs"


@pytest.fixture
def state():
    return {
        "domain": {"counter": 0, "items": [1, 2], "user": {"name": "ada", "age": 36}, "secret": "s"},
        "global": {"limit": 10, "vip": True},
        "heavy": {"blob": b"xx"},
    }


def values_for(state, *paths):
    out = {}
    for path in paths:
        node = state
        for part in path.split("."):
            node = node[part]
        out[path] = node
    return out


def test_scoped_reads(state):
    ctx = _context(values_for(state, "domain.counter", "domain.items", "domain.user.name", "global.limit"), 4, {})
    assert type(ctx) is Context
    assert type(ctx.domain) is ScopedView
    assert ctx.domain.counter == 0
    assert ctx.domain["counter"] == 0
    assert type(ctx.domain.items) is FrozenList and ctx.domain.items == [1, 2]  # declared names win
    assert ctx.domain.user.name == "ada"
    assert ctx.domain["user"]["name"] == "ada"
    assert ctx.global_.limit == 10
    assert ctx["global"].limit == 10
    assert ctx.version == 4
    assert ctx.domain.items is ctx.domain.items  # frozen once, then cached
    assert "counter" in ctx.domain and "secret" not in ctx.domain
    assert "domain" in ctx and "heavy" not in ctx
    assert set(ctx.domain) == {"counter", "items", "user"}
    assert set(ctx.domain.keys()) == {"counter", "items", "user"}
    assert len(ctx.domain) == 3 and len(ctx.domain.user) == 1
    assert ctx.domain.get("counter") == 0
    assert ctx.domain.user.items() == (("name", "ada"),)  # not declared: the method
    assert ("counter", 0) in ScopedView.items(ctx.domain)  # declared "items" shadows it
    assert ctx.domain.to_dict() == {"counter": 0, "items": [1, 2], "user": {"name": "ada"}}
    assert ctx.domain.values()[0] == 0


def test_undeclared_reads_raise_contract_violation(state):
    ctx = _context(values_for(state, "domain.counter", "global.limit"), 0, {})
    with pytest.raises(ContractViolationError) as info:
        ctx.domain.other
    assert str(info.value) == (
        "ctx.domain.other: not among the process's declared inputs (domain.counter, global.limit); "
        "add 'domain.other' to inputs=[...]"
    )
    assert isinstance(info.value, TheusError)
    with pytest.raises(ContractViolationError, match=r"ctx\.domain\.secret: .*add 'domain\.secret'"):
        ctx.domain["secret"]
    with pytest.raises(ContractViolationError, match=r"ctx\.heavy: "):
        ctx.heavy
    with pytest.raises(ContractViolationError, match=r"ctx\.heavy: "):
        ctx["heavy"]
    with pytest.raises(ContractViolationError, match=r"ctx\.global\.vip: "):
        ctx.global_.vip
    with pytest.raises(ContractViolationError, match=r"ctx\.domain\.secret"):
        ctx.domain.get("secret")
    with pytest.raises(ContractViolationError):
        hasattr(ctx.domain, "secret")


def test_nested_undeclared_path(state):
    ctx = _context(values_for(state, "domain.user.name"), 0, {})
    with pytest.raises(ContractViolationError, match=r"ctx\.domain\.user\.age: .*\(domain\.user\.name\)"):
        ctx.domain.user.age
    with pytest.raises(ContractViolationError, match=r"ctx\.domain\.counter"):
        ctx.domain.counter


def test_whole_zone_declared(state):
    ctx = _context(values_for(state, "domain", "domain.counter", "global.limit"), 1, {})
    assert type(ctx.domain) is FrozenDict
    assert ctx.domain.secret == "s"
    assert ctx.domain.user.age == 36
    ctx2 = _context(dict(reversed(list(values_for(state, "domain", "domain.counter").items()))), 1, {})
    assert type(ctx2.domain) is FrozenDict and ctx2.domain.secret == "s"


def test_declared_ancestor_wins_at_any_depth(state):
    for order in (("domain.user", "domain.user.name"), ("domain.user.name", "domain.user")):
        ctx = _context(values_for(state, *order), 0, {})
        assert type(ctx.domain.user) is FrozenDict
        assert ctx.domain.user.age == 36


def test_version_and_extras(state):
    box = []
    ctx = _context({"domain.counter": 0, "outbox": ["committed"]}, 9, {"outbox": box, "tools": "t"})
    assert ctx.version == 9
    assert ctx.outbox is box  # an extra is exposed as is and shadows the zone
    assert ctx.tools == "t"
    assert ctx["outbox"] is box
    ctx.outbox.append("msg")
    assert box == ["msg"]
    assert "tools" in ctx


def test_no_extras(state):
    for extras in (None, {}):
        ctx = _context(values_for(state, "domain.counter"), 2, extras)
        assert ctx.version == 2 and ctx.domain.counter == 0
        with pytest.raises(ContractViolationError):
            ctx.outbox


WRITES = [
    lambda ctx: setattr(ctx, "domain", {}),
    lambda ctx: setattr(ctx, "version", 5),
    lambda ctx: delattr(ctx, "domain"),
    lambda ctx: ctx.__setitem__("domain", {}),
    lambda ctx: setattr(ctx.domain, "counter", 1),
    lambda ctx: setattr(ctx.domain, "new", 1),
    lambda ctx: ctx.domain.__setitem__("counter", 1),
    lambda ctx: ctx.domain.__delitem__("counter"),
    lambda ctx: delattr(ctx.domain, "counter"),
    lambda ctx: ctx.domain.update({"counter": 1}),
    lambda ctx: ctx.domain.pop("counter"),
    lambda ctx: setattr(ctx.domain.user, "name", "x"),
    lambda ctx: ctx.domain.items.append(3),
    lambda ctx: ctx.global_.__setitem__("limit", 1),
    lambda ctx: setattr(ctx.global_, "limit", 1),
    lambda ctx: setattr(ctx, "__class__", dict),
    lambda ctx: ctx.__dict__,
    lambda ctx: ctx.domain.__dict__,
]


@pytest.mark.parametrize("write", WRITES)
def test_writes_raise_context_error(state, write):
    before = copy.deepcopy(state)
    ctx = _context(values_for(state, "domain.counter", "domain.items", "domain.user.name", "global"), 0, {})
    with pytest.raises(ContextError) as info:
        write(ctx)
    assert FIX in str(info.value)
    assert state == before


def test_object_setattr_and_subclassing_fail(state):
    ctx = _context(values_for(state, "domain.counter"), 0, {})
    with pytest.raises(TypeError):
        object.__setattr__(ctx, "domain", 1)
    with pytest.raises(TypeError):
        object.__setattr__(ctx.domain, "counter", 1)
    for cls in (Context, ScopedView):
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})


def test_context_reveals_no_raw_value(state):
    items = state["domain"]["items"]
    ctx = _context(values_for(state, "domain.items", "global"), 0, {})
    assert gc.get_referents(ctx.domain) == []
    assert all(obj is not items for obj in gc.get_referents(ctx))
    assert ctx.domain.items is not items
    assert ctx.domain.to_dict()["items"] is not items
    assert pickle.loads(pickle.dumps(ctx.domain)) == {"items": [1, 2]}
    assert copy.deepcopy(ctx.domain) == {"items": [1, 2]}
    with pytest.raises(TypeError):
        pickle.dumps(ctx)
    with pytest.raises(TypeError):
        copy.copy(ctx)


def test_malformed_paths():
    with pytest.raises(ValueError, match="malformed"):
        _context({"domain..x": 1}, 0, {})
    with pytest.raises(ValueError):
        _context({"": 1}, 0, {})
    with pytest.raises(TypeError):
        _context({1: 1}, 0, {})
    with pytest.raises(TypeError):
        _context([], 0, {})


def test_repr(state):
    ctx = _context(values_for(state, "domain.counter"), 0, {"outbox": []})
    assert repr(ctx) == "Context(['domain', 'version', 'outbox'])"
    assert repr(ctx.domain) == "ScopedView('domain', {'counter': 0})"
