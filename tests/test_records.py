"""theus._records against the standard library: a record class built from a class body behaves
as typing.NamedTuple / dataclasses.dataclass build it from the same body."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing

import pytest

from theus import _records


def _pair(frozen: bool, eq: bool) -> tuple[type, type]:
    def body(decorate, field):
        @decorate(frozen=frozen, eq=eq)
        class Point:
            """A point."""

            x: int
            y: float = 1.5
            tags: tuple = ()
            area: float = field(init=False, repr=False)

            def __post_init__(self) -> None:
                object.__setattr__(self, "area", self.x * self.y)

        return Point

    return body(dataclasses.dataclass, dataclasses.field), body(_records.dataclass, _records.field)


@pytest.mark.parametrize("frozen,eq", [(True, True), (True, False), (False, True), (False, False)])
def test_dataclass_matches_the_standard_one(frozen: bool, eq: bool) -> None:
    std, ours = _pair(frozen, eq)
    a, b = std(2, tags=(1,)), ours(2, tags=(1,))
    assert repr(a) == repr(b) and repr(b).endswith(".Point(x=2, y=1.5, tags=(1,))")
    assert str(inspect.signature(std)) == str(inspect.signature(ours))
    assert ours.__match_args__ == std.__match_args__ == ("x", "y", "tags")
    assert b.area == a.area == 3.0
    assert (ours(2) == ours(2)) is (std(2) == std(2))
    assert ours(2) != ours(3) and ours(2) != std(2)
    assert (ours.__hash__ is None) is (std.__hash__ is None)
    if ours.__hash__ is not None and eq:
        assert hash(ours(2)) == hash(ours(2))
    if frozen:
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
            b.x = 5
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
            del b.y
    else:
        b.x = 5
        assert b.x == 5
    assert dataclasses.is_dataclass(b) and dataclasses.is_dataclass(ours)
    assert [f.name for f in dataclasses.fields(b)] == [f.name for f in dataclasses.fields(a)]
    assert dataclasses.asdict(b) == {"x": b.x, "y": 1.5, "tags": (1,), "area": 3.0}
    moved = dataclasses.replace(b, y=2.0)
    assert type(moved) is ours and (moved.x, moved.y, moved.area) == (b.x, 2.0, b.x * 2.0)
    assert ours.__dataclass_params__.frozen is frozen
    assert repr(copy.copy(b)) == repr(b) == repr(copy.deepcopy(b))
    assert ours.__doc__ == "A point."


def test_dataclass_refuses_what_the_standard_one_refuses() -> None:
    with pytest.raises(ValueError, match="mutable default"):
        @_records.dataclass
        class Bad:
            items: list = []  # noqa: RUF012
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @_records.dataclass
        class Order:
            a: int = 0
            b: int


def test_a_cyclic_repr_shows_dots() -> None:
    @_records.dataclass
    class Node:
        next: object = None

    n = Node()
    n.next = n
    assert repr(n).endswith(".Node(next=...)")


def test_namedtuple_matches_the_standard_one() -> None:
    class Std(typing.NamedTuple):
        """A row."""

        kind: str
        n: int = 0

        def double(self) -> int:
            return self.n * 2

    class Ours(_records.NamedTuple):
        """A row."""

        kind: str
        n: int = 0

        def double(self) -> int:
            return self.n * 2

    a, b = Std("x", 2), Ours("x", 2)
    assert repr(a).replace("Std", "Ours") == repr(b) == "Ours(kind='x', n=2)"
    assert b == a and hash(b) == hash(a) and isinstance(b, tuple) and type(b).__bases__ == (tuple,)
    assert b._replace(n=3) == ("x", 3) and b._asdict() == {"kind": "x", "n": 2} and Ours._fields == Std._fields
    assert Ours._field_defaults == Std._field_defaults == {"n": 0} and Ours("y") == ("y", 0)
    assert b.double() == 4 and Ours.__doc__ == "A row." and Ours.__module__ == __name__
    assert list(Ours.__annotations__) == ["kind", "n"]
    with pytest.raises(AttributeError):
        b.n = 5
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(_records.NamedTuple):
            a: int = 0
            b: int
