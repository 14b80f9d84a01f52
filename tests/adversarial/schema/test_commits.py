"""Typed state: every commit path validates what it writes under a declared zone, refuses bad
values with ContractViolationError naming the path and the field error, and commits nothing."""

from __future__ import annotations

import dataclasses
import threading
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field

import theus
from theus import ArgumentError, ContractViolationError, StateUpdate, TheusEngine, TransactionError, process


class Address(BaseModel):
    city: str
    zip: Annotated[str, Field(pattern=r"^\d{5}$")] = "00000"


class Line(BaseModel):
    sku: str
    qty: int = Field(ge=0)


class Order(BaseModel):
    qty: int = 0
    status: str = "new"
    address: Optional[Address] = None
    lines: dict[str, Line] = {}
    tags: list[str] = []
    notes: Any = None


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int = 0


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)
    n: int = 0


@dataclasses.dataclass
class Limits:
    max_qty: int = 10
    labels: dict[str, str] = dataclasses.field(default_factory=dict)


def engine(**kw: Any) -> TheusEngine:
    return TheusEngine({"domain": {"qty": 1, "lines": {"a": {"sku": "A", "qty": 1}}}, "global": {}},
                       schema={"domain": Order, "global": Limits}, **kw)


def unchanged(e: TheusEngine, version: int, before: dict) -> None:
    assert e.state.version == version
    assert e.state.to_dict() == before


# --- construction -------------------------------------------------------------------------------

def test_initial_context_is_validated_and_filled_with_defaults() -> None:
    e = engine()
    assert e.state.to_dict() == {
        "domain": {"qty": 1, "status": "new", "address": None, "lines": {"a": {"sku": "A", "qty": 1}},
                   "tags": [], "notes": None},
        "global": {"max_qty": 10, "labels": {}},
    }
    assert e.state.version == 0


@pytest.mark.parametrize("context, where", [
    ({"domain": {"qty": "oops"}}, "qty"),
    ({"domain": {"lines": {"a": {"sku": "A", "qty": -1}}}}, "lines.a.qty"),
    ({"domain": {"unknown": 1}}, "unknown"),
    ({"domain": {}, "global": {"max_qty": "many"}}, "max_qty"),
])
def test_bad_initial_context_is_refused(context: dict, where: str) -> None:
    with pytest.raises(ContractViolationError, match=r"TheusEngine: context: .*" + where.replace(".", r"\.")):
        TheusEngine(context, schema={"domain": Order, "global": Limits})


def test_model_instances_in_the_context_become_branches() -> None:
    e = TheusEngine({"domain": Order(qty=3, address=Address(city="Oslo"))}, schema={"domain": Order})
    assert e.state.domain.address.city == "Oslo"  # a FrozenDict branch, so paths below are writable
    e.update({"domain.address.city": "Bergen"})
    assert e.state["domain.address.city"] == "Bergen"


@pytest.mark.parametrize("schema", [
    {"domain": dict}, {"domain": int}, {"domain": Order(qty=1)}, {"domain.orders": Order}, {"": Order},
    {"outbox": Order}, ["domain"],
])
def test_bad_schemas_are_argument_errors(schema: Any) -> None:
    with pytest.raises(ArgumentError, match="schema"):
        TheusEngine({"domain": {}}, schema=schema)


def test_missing_zone_with_required_fields_is_refused() -> None:
    with pytest.raises(ContractViolationError, match="city"):
        TheusEngine({}, schema={"domain": Address})


# --- every commit path -------------------------------------------------------------------------

@process(inputs=["domain.qty"], outputs=["domain.qty"])
def set_oops(ctx):
    return "oops"


def test_process_return_is_validated_and_nothing_committed() -> None:
    e = engine()
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError) as info:
        e.execute(set_oops)
    msg = str(info.value)
    assert "set_oops" in msg and "domain.qty" in msg and "valid integer" in msg and "'oops'" in msg
    unchanged(e, 0, before)


def test_update_and_compare_and_swap_are_validated() -> None:
    e = engine()
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError, match=r"update: domain\.qty: .*valid integer"):
        e.update({"domain.qty": "x"})
    with pytest.raises(ContractViolationError, match=r"compare_and_swap: domain\.status: .*valid string"):
        e.compare_and_swap(0, {"domain.status": 5})
    unchanged(e, 0, before)
    assert e.compare_and_swap(0, {"domain.status": "paid"}) == 1


def test_a_bad_value_among_good_ones_commits_none_of_them() -> None:
    e = engine()
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError, match="domain.lines.a.qty"):
        e.update({"domain.qty": 5, "domain.status": "x", "domain.lines.a.qty": -3})
    unchanged(e, 0, before)


def test_values_are_stored_coerced() -> None:
    e = engine()
    e.update({"domain.qty": "7", "domain.tags": ("a", "b"), "global.max_qty": "3"})
    snap = e.state
    assert snap.domain.qty == 7 and type(snap.domain.qty) is int
    assert snap.domain.tags == ["a", "b"]
    assert snap["global.max_qty"] == 3


def test_strict_model_config_refuses_coercion() -> None:
    e = TheusEngine({"domain": {}}, schema={"domain": Strict})
    with pytest.raises(ContractViolationError, match="domain.n"):
        e.update({"domain.n": "3"})
    e.update({"domain.n": 3})
    assert e.state.domain.n == 3


def test_flux_steps_are_validated() -> None:
    e = engine()
    e.register(set_oops)
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError, match=r"set_oops: domain\.qty") as info:
        e.execute_workflow("steps: [set_oops]")
    assert info.value.run.status == "failed"
    unchanged(e, 0, before)


@process(inputs=["domain.lines.{line}"], outputs=["domain.lines.{line}.qty"])
def set_line_qty(ctx, line, qty=1):
    return qty


def test_keyed_paths_are_validated_per_key() -> None:
    e = engine()
    e.register(set_line_qty)
    e.execute(set_line_qty, line="a", qty="4")
    assert e.state.domain.lines.a.qty == 4
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError, match=r"set_line_qty: domain\.lines\.a\.qty: .*greater than or equal to 0"):
        e.execute(set_line_qty, line="a", qty=-1)
    unchanged(e, 1, before)


def test_keyed_path_through_a_flux_map_is_validated() -> None:
    e = engine()
    e.register(set_line_qty)
    with pytest.raises(ContractViolationError, match="domain.lines.a.qty"):
        e.execute_workflow("""
steps:
  - process: set_line_qty
    with: {line: a, qty: -2}
""")
    assert e.state.domain.lines.a.qty == 1 and e.state.version == 0


def test_a_schema_error_uses_no_retry() -> None:
    calls = []

    @process(inputs=["domain.qty"], outputs=["domain.qty"], retry=theus.RetryPolicy(max_attempts=5, initial_delay=0))
    def bad(ctx):
        calls.append(1)
        return "nope"

    e = engine()
    with pytest.raises(ContractViolationError):
        e.execute(bad)
    assert calls == [1]


def test_conflict_retries_still_validate_each_attempt() -> None:
    e = engine(retries=5)
    started = threading.Event()
    go = threading.Event()
    attempts = []

    @process(inputs=["domain.qty"], outputs=["domain.qty"])
    def slow(ctx):
        attempts.append(ctx.domain.qty)
        if len(attempts) == 1:
            started.set()
            go.wait(5)
        return ctx.domain.qty + 1

    t = threading.Thread(target=e.execute, args=(slow,))
    t.start()
    assert started.wait(5)
    e.update({"domain.qty": "10"})  # a conflicting, coerced write
    go.set()
    t.join()
    assert attempts == [1, 10] and e.state.domain.qty == 11


# --- every depth -------------------------------------------------------------------------------

@pytest.mark.parametrize("path, value, error", [
    ("domain", {"qty": "z"}, "valid integer"),
    ("domain", 5, "valid dictionary"),
    ("domain.address", {"zip": "12345"}, "city"),
    ("domain.address.city", 3, "valid string"),
    ("domain.address", {"city": "x", "country": "y"}, "Extra inputs are not permitted"),
    ("domain.address.zip", "abc", "pattern"),
    ("domain.lines", {"b": {"sku": 1}}, "valid string"),
    ("domain.lines.b", {"sku": "B", "qty": -1}, "greater than or equal"),
    ("domain.lines.b.qty", "many", "valid integer"),
    ("domain.lines.a.price", 3, "no field 'price'"),
    ("domain.nope", 1, "no field 'nope'"),
    ("domain.qty.deeper", 1, "nothing can be written below"),
    ("domain.tags", "abc", "valid list"),
    ("global.max_qty", [1], "valid integer"),
    ("global.labels.x", 1, "valid string"),
    ("global.other", 1, "no field 'other'"),
])
def test_bad_values_at_every_depth(path: str, value: Any, error: str) -> None:
    e = engine()
    before = e.state.to_dict()
    with pytest.raises(ContractViolationError) as info:
        e.update({path: value})
    assert path in str(info.value) and error in str(info.value)
    assert info.value.path == path
    unchanged(e, 0, before)


@pytest.mark.parametrize("path, value, expect", [
    ("domain", {"qty": 2}, {"qty": 2}),
    ("domain.address", Address(city="Rome"), {"city": "Rome", "zip": "00000"}),
    ("domain.address", {"city": "Rome", "zip": "12345"}, {"city": "Rome", "zip": "12345"}),
    ("domain.address.city", "Paris", "Paris"),
    ("domain.lines.b", Line(sku="B", qty=2), {"sku": "B", "qty": 2}),
    ("domain.lines.a.qty", "5", 5),
    ("domain.notes", {"any": ["thing"]}, {"any": ["thing"]}),
    ("domain.notes.deep", 1, 1),
    ("global.labels.x", "y", "y"),
])
def test_good_values_at_every_depth(path: str, value: Any, expect: Any) -> None:
    e = engine()
    if path == "domain.notes.deep":
        e.update({"domain.notes": {}})  # below Any nothing is checked
    if path == "domain.address.city":
        e.update({"domain.address": {"city": "Rome"}})
    e.update({path: value})
    got = e.state[path]
    got = got.to_dict() if hasattr(got, "to_dict") else got
    if path == "domain":
        assert got["qty"] == 2 and got["status"] == "new"  # defaults filled for a whole-zone write
    else:
        assert got == expect


def test_models_are_stored_as_branches_whose_fields_are_paths() -> None:
    e = engine()
    e.update({"domain.address": Address(city="Rome")})
    assert type(e.state.domain.address).__name__ == "FrozenDict"
    e.update({"domain.address.zip": "54321"})
    assert e.state.domain.address.to_dict() == {"city": "Rome", "zip": "54321"}


def test_delete_of_a_dict_entry_is_allowed_but_not_of_a_declared_field() -> None:
    e = engine()
    e.update({"domain.lines.a": theus.DELETE})
    assert e.state.domain.lines.to_dict() == {}
    with pytest.raises(ContractViolationError, match="cannot be removed"):
        e.update({"domain.qty": theus.DELETE})
    with pytest.raises(ContractViolationError, match="cannot be removed"):
        e.update({"domain": theus.DELETE})
    assert e.state.domain.qty == 1


def test_extra_allow_accepts_unknown_fields_as_given() -> None:
    e = TheusEngine({"domain": {"n": 1, "free": [1]}}, schema={"domain": Loose})
    assert e.state.domain.free == [1]
    e.update({"domain.other": {"x": "y"}})
    e.update({"domain.other.z": 1})
    assert e.state.domain.other.to_dict() == {"x": "y", "z": 1}
    e.update({"domain.other": theus.DELETE})
    assert "domain.other" not in e.state
    with pytest.raises(ContractViolationError, match="domain.n"):
        e.update({"domain.n": "x"})


def test_dataclass_zone() -> None:
    e = TheusEngine({"global": Limits(max_qty=4)}, schema={"global": Limits})
    assert e.state["global.max_qty"] == 4
    e.update({"global.labels": {"a": "b"}})
    with pytest.raises(ContractViolationError, match=r"global\.labels\.a: Limits\.labels\[key\]: .*valid string"):
        e.update({"global.labels.a": 1})


def test_untyped_zones_are_not_checked() -> None:
    e = TheusEngine({"domain": {}, "scratch": {}}, schema={"domain": Order})
    e.update({"scratch.anything": object.__name__, "scratch.n": "x"})
    assert e.state.scratch.n == "x"


def test_outbox_messages_of_a_typed_process_still_commit() -> None:
    @process(inputs=["domain.qty"], outputs=["domain.qty"])
    def bump(ctx):
        ctx.outbox.add("bumped", {"to": ctx.domain.qty + 1})
        return str(ctx.domain.qty + 1)

    e = engine()
    e.execute(bump)
    got = []
    assert e.process_outbox(got.append) == 1
    assert got[0].payload == {"to": 2} and e.state.domain.qty == 2


def test_a_failed_validation_drops_the_outbox_messages() -> None:
    @process(inputs=["domain.qty"], outputs=["domain.qty"])
    def bad(ctx):
        ctx.outbox.add("never", None)
        return "bad"

    e = engine()
    with pytest.raises(ContractViolationError):
        e.execute(bad)
    assert e.process_outbox(lambda m: None) == 0


def test_state_update_and_dict_returns_are_validated() -> None:
    @process(inputs=["domain"], outputs=["domain"])
    def explicit(ctx):
        return StateUpdate({"domain.status": "paid", "domain.address.city": 9})

    e = engine()
    with pytest.raises(ContractViolationError, match=r"explicit: domain\.address\.city"):
        e.execute(explicit)
    assert e.state.version == 0


def test_returning_a_view_read_from_state_validates() -> None:
    @process(inputs=["domain.lines"], outputs=["domain.lines.b"])
    def copy_line(ctx):
        return ctx.domain.lines.a  # a FrozenDict

    e = engine()
    e.execute(copy_line)
    assert e.state.domain.lines.b.to_dict() == {"sku": "A", "qty": 1}


def test_async_process_is_validated() -> None:
    @process(inputs=["domain.qty"], outputs=["domain.qty"])
    async def later(ctx):
        return "later"

    e = engine()
    with pytest.raises(ContractViolationError, match="later: domain.qty"):
        e.execute(later)
    assert e.state.version == 0


def test_transaction_errors_are_unaffected() -> None:
    e = engine()
    e.update({"domain.qty": 2})
    with pytest.raises(TransactionError):
        e.compare_and_swap(0, {"domain.qty": 3})


def test_a_model_value_read_from_another_engine_is_stored_as_plain_data() -> None:
    source = TheusEngine({"domain": {"a": Address(city="Lima")}})
    view = source.state.domain.a  # a FrozenObject: pydantic takes it as an Address instance
    e = engine()
    e.update({"domain.address": view})
    e.update({"domain.lines.z": Line(sku="Z", qty=1)})
    assert e.state.domain.address.to_dict() == {"city": "Lima", "zip": "00000"}
    e.update({"domain": {"address": view, "lines": {}}})
    assert e.state.domain.address.city == "Lima" and e.state.domain.lines.to_dict() == {}


def test_an_explicit_extra_ignore_drops_unknown_fields() -> None:
    class Quiet(BaseModel):
        model_config = ConfigDict(extra="ignore")
        n: int = 0

    e = TheusEngine({"domain": {"n": 1, "dropped": 2}}, schema={"domain": Quiet})
    assert e.state.domain.to_dict() == {"n": 1}
    with pytest.raises(ContractViolationError, match="no field 'dropped'"):
        e.update({"domain.dropped": 1})  # a path write names a field the model does not have


def test_hostile_values_get_a_clear_error() -> None:
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no repr")

        def __eq__(self, other):
            raise RuntimeError("no eq")

        __hash__ = object.__hash__

    e = engine()
    with pytest.raises(ContractViolationError, match=r"domain\.qty: .*got Hostile <unprintable>"):
        e.update({"domain.qty": Hostile()})
    with pytest.raises(ContractViolationError, match=r"domain\.lines\.x"):
        e.update({"domain.lines.x": {"sku": Hostile(), "qty": 1}})
    assert e.state.version == 0


def test_a_validator_exception_passes_through_and_commits_nothing() -> None:
    from pydantic import field_validator

    class Picky(BaseModel):
        n: int = 0

        @field_validator("n")
        @classmethod
        def boom(cls, v):
            if v == 13:
                raise LookupError("unlucky")  # not a validation error: the user's exception
            if v == 7:
                raise ValueError("seven is taken")  # pydantic turns it into a field error
            return v

    e = TheusEngine({"domain": {}}, schema={"domain": Picky})
    with pytest.raises(LookupError, match="unlucky"):
        e.update({"domain": {"n": 13}})
    with pytest.raises(ContractViolationError, match=r"update: domain: Picky: n: Value error, seven is taken"):
        e.update({"domain": {"n": 7}})
    assert e.state.version == 0 and e.state.domain.n == 0


def test_many_threads_writing_validated_values() -> None:
    e = engine()
    errors = []

    def work(i: int) -> None:
        for j in range(50):
            e.update({f"domain.lines.t{i}": {"sku": f"S{j}", "qty": str(j)}})
            try:
                e.update({f"domain.lines.t{i}.qty": -j - 1})
            except ContractViolationError as err:
                errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 200
    assert e.state.version == 200
    assert {e.state.domain.lines[f"t{i}"].qty for i in range(4)} == {49}
