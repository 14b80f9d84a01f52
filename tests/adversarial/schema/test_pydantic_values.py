"""Pydantic model instances committed as values read back usable and frozen: fields, pydantic's
own methods, ==, repr, copies; every write raises ContextError and the committed instance never
reaches user code."""

from __future__ import annotations

import copy
import gc
import pickle

import pytest
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_serializer

import theus
from theus import ContextError, TheusEngine, process


class Address(BaseModel):
    city: str = "Oslo"


class Order(BaseModel):
    qty: int
    tags: list[str] = []
    address: Address = Address()

    def total(self, price: int) -> int:
        return self.qty * price

    def bump(self) -> None:
        self.qty += 1


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int = 0
    _secret: str = PrivateAttr(default="s")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)
    n: int = 0
    items: tuple[int, ...] = ()


def stored(value):
    e = TheusEngine({"domain": {"v": value}})
    return e, e.state.domain.v


def test_fields_and_nested_models_read_frozen() -> None:
    original = Order(qty=2, tags=["a"])
    _, v = stored(original)
    assert type(v).__name__ == "FrozenObject" and isinstance(v, Order)
    assert v.qty == 2 and v.tags == ["a"] and type(v.tags).__name__ == "FrozenList"
    assert v.address.city == "Oslo" and isinstance(v.address, Address)
    assert v.model_fields_set == {"qty", "tags"}


def test_pydantic_methods_work() -> None:
    _, v = stored(Order(qty=2, tags=["a"]))
    assert v.model_dump() == {"qty": 2, "tags": ["a"], "address": {"city": "Oslo"}}
    assert v.model_dump(include={"qty"}) == {"qty": 2}
    assert v.model_dump_json() == '{"qty":2,"tags":["a"],"address":{"city":"Oslo"}}'
    c = v.model_copy(update={"qty": 5})
    assert type(c) is Order and c.qty == 5 and c.tags == ["a"]
    assert "Order(qty=2, tags=['a'], address=Address(city='Oslo'))" in repr(v)
    assert v.total(3) == 6  # the user's own method runs with the view as self


def test_equality_both_ways() -> None:
    _, v = stored(Order(qty=2, tags=["a"]))
    assert v == Order(qty=2, tags=["a"])
    assert Order(qty=2, tags=["a"]) == v
    assert v != Order(qty=3)
    assert Order(qty=3) != v
    _, w = stored(Order(qty=2, tags=["a"]))
    assert v == w


def test_results_of_methods_are_independent_copies() -> None:
    original = Order(qty=2, tags=["a"])
    e, v = stored(original)
    d = v.model_dump()
    d["tags"].append("x")
    c = v.model_copy()
    c.tags.append("y")
    c.qty = 100
    deep = copy.deepcopy(v)
    deep.address.city = "Rome"
    assert type(deep) is Order and type(copy.copy(v)) is Order
    again = pickle.loads(pickle.dumps(v))
    assert again == Order(qty=2, tags=["a"])
    assert e.state.domain.v.model_dump() == {"qty": 2, "tags": ["a"], "address": {"city": "Oslo"}}


@pytest.mark.parametrize("write", [
    lambda v: setattr(v, "qty", 3),
    lambda v: delattr(v, "qty"),
    lambda v: v.bump(),
    lambda v: v.tags.append("b"),
    lambda v: setattr(v.address, "city", "Rome"),
    lambda v: v.__dict__.__setitem__("qty", 3),
    lambda v: v.__setattr__("qty", 3),
])
def test_writes_raise_context_error(write) -> None:
    e, v = stored(Order(qty=2, tags=["a"]))
    with pytest.raises(ContextError):
        write(v)
    assert e.state.domain.v.qty == 2 and e.state.domain.v.tags == ["a"]


def test_setstate_cannot_write_either() -> None:
    e, v = stored(Order(qty=2))
    with pytest.raises(TypeError):
        v.__setstate__({"__dict__": {"qty": 9}, "__pydantic_fields_set__": set(),
                        "__pydantic_extra__": None, "__pydantic_private__": None})
    assert e.state.domain.v.qty == 2


def test_dict_reads_as_a_frozen_mapping() -> None:
    _, v = stored(Order(qty=2))
    d = v.__dict__
    assert type(d).__name__ == "FrozenDict" and d["qty"] == 2


def test_extra_and_private_attributes_read() -> None:
    _, v = stored(Loose(n=1, free=[1, 2]))
    assert v.free == [1, 2] and type(v.free).__name__ == "FrozenList"
    assert v._secret == "s"
    assert v.model_extra == {"free": [1, 2]}
    with pytest.raises(AttributeError):
        v.missing


def test_frozen_model_hash_and_equality() -> None:
    value = Frozen(n=1, items=(1, 2))
    _, v = stored(value)
    assert v == value and value == v
    assert hash(v) == hash(value)


def test_committed_instance_never_reaches_pydantic_methods() -> None:
    seen = []

    class Spy(BaseModel):
        n: int = 1

        @model_serializer(mode="wrap")
        def record(self, handler):
            seen.append(self)
            return handler(self)

    spy = Spy()
    _, v = stored(spy)
    assert v.model_dump() == {"n": 1}
    assert v.model_copy().model_dump_json() == '{"n":1}'
    assert len(seen) == 2 and all(type(s) is Spy and s is not spy for s in seen)


def test_a_process_reads_a_model_value_and_returns_a_new_one() -> None:
    @process(inputs=["domain.v"], outputs=["domain.v"])
    def bump(ctx):
        return ctx.domain.v.model_copy(update={"qty": ctx.domain.v.qty + 1})

    e = TheusEngine({"domain": {"v": Order(qty=1)}})
    e.execute(bump)
    e.execute(bump)
    assert e.state.domain.v.qty == 3 and e.state.domain.v == Order(qty=3)


def test_views_do_not_leak_through_the_gc() -> None:
    original = Order(qty=2, tags=["a"])
    _, v = stored(original)
    dumped = v.model_dump()
    gc.collect()
    assert not any(r is original for r in gc.get_referents(v))
    assert dumped == {"qty": 2, "tags": ["a"], "address": {"city": "Oslo"}}


def test_kind_is_still_object() -> None:
    assert theus._core._kind(Order(qty=1)) == "object"
