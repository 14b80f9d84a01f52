"""Typed state: zones declared by pydantic models or dataclasses, checked on every commit.

``TheusEngine(context, schema={"domain": Order})`` validates the initial ``domain`` zone
against ``Order`` and, from then on, every path a commit writes below ``domain``:

- a write of the whole zone (``"domain"``) validates the whole model, its validators included;
- a write of a field (``"domain.qty"``) validates the value against that field's annotation
  and its ``Field(...)``/``Annotated`` constraints; the parent model's ``@field_validator`` and
  ``@model_validator`` functions run only when that model is validated as a whole (they may
  read sibling fields a single-field write does not carry);
- a write below a field follows the declared types: a nested model or dataclass by field
  name, ``dict[K, V]`` (any mapping type) by key to ``V``, through ``Optional``/``Annotated``;
  below ``Any`` or a union of several types nothing further is checked;
- a field the model does not declare is refused, unless the model allows extra fields
  (``model_config = ConfigDict(extra="allow")``), whose values are stored as given; when a
  model inside a validated value sets ``extra`` itself, the models' own settings apply
  (``extra="ignore"`` drops unknown fields), otherwise unknown fields are refused at every depth;
- ``theus.DELETE`` may remove a ``dict`` entry or an extra field, never a declared field.

What is stored is the validated value as plain data: coerced (``"3"`` becomes ``3`` for an
``int`` field) and dumped in pydantic's python mode, so models and dataclasses become dicts
(branches whose fields are paths: ``domain.addr.city`` stays writable), enums, datetimes and
other scalars stay as they are. A bad value raises :class:`ContractViolationError` naming the
path and pydantic's message; the commit writes nothing and a process's retries are not used.

Schema keys are zone names only (``"domain"``, ``"global"``, your own zones; never
``"outbox"``, which the engine owns); describe deeper structure with nested models or
``dict[str, Order]`` fields. Engines without a schema pay nothing (one ``if`` per commit).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any, Generic, Mapping, Protocol, TypeVar

from .errors import ArgumentError, ContractViolationError
from .markers import DELETE

__all__ = ["Schema", "Context"]

_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})
_CACHE_LIMIT = 4096  # resolved paths kept per engine (keyed paths make many distinct ones)

_D = TypeVar("_D", covariant=True)


class Context(Protocol, Generic[_D]):
    """A type for a process's ``ctx`` when the domain zone has a schema, for IDE completion
    and type checkers only (nothing checks it at run time)::

        def bump(ctx: theus.Context[Order]) -> int:
            return ctx.domain.qty + 1        # the IDE completes .qty and knows it is an int

    For more typed zones, extend it: ``class Ctx(theus.Context[Order], Protocol): global_:
    Limits``. At run time ``ctx.domain`` is a read-only ``FrozenDict`` whose keys read as
    attributes, not an ``Order``: fields read as declared, lists as ``FrozenList``, and the
    model's methods are not there (a type checker would allow ``ctx.domain.model_dump()``).
    """

    @property
    def domain(self) -> _D:
        """The domain zone, typed as its schema model (read-only)."""

    @property
    def global_(self) -> Any:
        """The global zone (``ctx["global"]``)."""

    @property
    def heavy(self) -> Any:
        """The heavy zone."""

    @property
    def outbox(self) -> Any:
        """The process's outbox (``ctx.outbox.add(...)``)."""

    @property
    def version(self) -> int:
        """The version the process reads."""


def _pydantic() -> Any:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - pydantic is a dependency of typed state only
        raise ArgumentError("TheusEngine: schema= needs pydantic 2 (pip install pydantic)") from None
    return pydantic


class _Node:
    """One declared type on the way down a path: how to validate a value of it, and how to
    find the type of a child segment."""

    __slots__ = ("tp", "label", "_adapter", "_fields", "_extra", "_item", "_leaf", "_expanded", "_exact")

    def __init__(self, tp: Any, label: str) -> None:
        self.tp = tp
        self.label = label  # "Order.qty", for messages
        self._adapter: Any = None
        self._expanded = False  # children are built on first use (models may refer to themselves)
        self._fields: dict[str, _Node] | None = None  # a model or dataclass: its fields
        self._extra = False  # a model that allows undeclared fields
        self._item: _Node | None = None  # a mapping: the type of its values
        self._leaf = True  # nothing below can be addressed by a path
        # a plain int/str/float/bool field: a value of exactly that type is valid as it is
        self._exact = tp if tp in (int, str, float, bool) else None

    def _expand(self) -> None:
        target = _navigable(self.tp)
        pydantic = _pydantic()
        if isinstance(target, type) and issubclass(target, pydantic.BaseModel):
            config = target.model_config
            strict = [pydantic.Strict()] if config.get("strict") else []
            self._fields = {
                name: _Node(typing.Annotated[(f.annotation, *f.metadata, *strict)] if (f.metadata or strict)
                            else f.annotation, f"{target.__name__}.{name}")
                for name, f in target.model_fields.items()
            }
            self._extra = config.get("extra") == "allow"
            self._leaf = False
        elif dataclasses.is_dataclass(target) and isinstance(target, type):
            try:
                hints = typing.get_type_hints(target, include_extras=True)
            except Exception:  # unresolvable forward references: the declared annotations
                hints = {f.name: f.type for f in dataclasses.fields(target)}
            self._fields = {f.name: _Node(hints.get(f.name, Any), f"{target.__name__}.{f.name}")
                            for f in dataclasses.fields(target)}
            self._leaf = False
        else:
            origin = typing.get_origin(target)
            if isinstance(origin, type) and issubclass(origin, Mapping):
                args = typing.get_args(target)
                self._item = _Node(args[1] if len(args) == 2 else Any, f"{self.label}[key]")
                self._leaf = False
            elif target is None:  # Any, or a union of several types: nothing to follow
                self._leaf = False
        self._expanded = True

    def adapter(self) -> tuple[Any, str | None]:
        """The TypeAdapter of this type, and the ``extra`` override its validation uses:
        ``"forbid"`` unless some model inside sets ``extra`` itself (then that applies)."""
        if self._adapter is None:
            self._adapter = (_pydantic().TypeAdapter(self.tp), None if _sets_extra(self.tp, set()) else "forbid")
        return self._adapter

    def child(self, seg: str, path: str) -> tuple[_Node | None, bool]:
        """The node of a child segment and whether a DELETE may remove it; (None, True) when
        nothing below is checked. Raises for a segment the type does not declare."""
        if not self._expanded:
            self._expand()
        if self._fields is not None:
            node = self._fields.get(seg)
            if node is not None:
                return node, False
            if self._extra:
                return None, True
            known = ", ".join(self._fields) or "none"
            owner = getattr(_navigable(self.tp), "__name__", self.label)
            raise _violation(path, f"{owner} has no field {seg!r} (its fields: {known}; "
                                   "unknown fields are refused unless the model sets extra='allow')")
        if self._item is not None:
            return self._item, True
        if not self._leaf:
            return None, True
        raise _violation(path, f"{self.label} is not a model, dataclass or mapping: nothing can be "
                               f"written below it (write {path.rsplit('.', 1)[0]!r} whole)")

    def validate(self, value: Any, path: str) -> Any:
        """The value validated (coerced) and dumped as plain data, or a violation."""
        if value.__class__ is self._exact or self.tp is Any:
            return value
        adapter, extra = self.adapter()
        pydantic = _pydantic()
        for attempt in (0, 1):
            try:
                checked = adapter.validate_python(value, extra=extra)
            except pydantic.ValidationError as e:
                raise _violation(path, f"{self.label}: {_messages(e)}") from None
            if checked.__class__ in _PLAIN:
                return checked
            try:
                return adapter.dump_python(checked, warnings="error")
            except (TypeError, ValueError) as e:  # PydanticSerializationError is a ValueError
                # a read-only view read from state passed through as a model instance
                # (pydantic does not revalidate instances): validate a plain copy instead
                if attempt:
                    raise _violation(path, f"{self.label}: cannot be stored as plain data ({e})") from None
                value = copy.deepcopy(value)
        raise AssertionError("unreachable")


def _navigable(tp: Any) -> Any:
    """The type to follow below a path segment: Annotated and Optional unwrapped; None for
    Any and for unions of several types."""
    while True:
        if tp is Any:
            return None
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is typing.Union or origin is types.UnionType:
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return None
            tp = rest[0]
            continue
        return tp


def _sets_extra(tp: Any, seen: set[int]) -> bool:
    """Whether a model reachable from tp sets ``extra`` in its config."""
    if id(tp) in seen:
        return False
    seen.add(id(tp))
    pydantic = _pydantic()
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        if tp.model_config.get("extra") is not None:
            return True
        return any(_sets_extra(f.annotation, seen) for f in tp.model_fields.values())
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        try:
            hints = typing.get_type_hints(tp)
        except Exception:  # unresolvable forward references: the adapter will report them
            return False
        return any(_sets_extra(h, seen) for h in hints.values())
    return any(_sets_extra(a, seen) for a in typing.get_args(tp) if not isinstance(a, (str, int, float)))


def _messages(e: Any) -> str:
    parts = []
    for err in e.errors(include_url=False):
        loc = ".".join(str(x) for x in err.get("loc", ()))
        got = err.get("input", None)
        try:
            shown = repr(got)[:80]
        except Exception:  # a hostile __repr__ must not hide the field error
            shown = "<unprintable>"
        text = f"{err['msg']} (got {type(got).__name__} {shown})"
        parts.append(f"{loc}: {text}" if loc else text)
    return "; ".join(parts)


def _violation(path: str, why: str) -> ContractViolationError:
    err = ContractViolationError(f"{path}: {why}; nothing was committed")
    err.path = path  # type: ignore[attr-defined]
    return err


class Schema:
    """The compiled ``schema=`` of an engine: zone name -> pydantic model class or dataclass.
    See the module docstring for what each commit checks."""

    __slots__ = ("_zones", "_paths")

    def __init__(self, schema: Any) -> None:
        if not isinstance(schema, Mapping):
            raise ArgumentError(f"TheusEngine: schema: expected a dict of zone -> model class, got {type(schema).__name__}")
        pydantic = _pydantic()
        self._zones: dict[str, _Node] = {}
        self._paths: dict[str, tuple[_Node | None, bool]] = {}
        for zone, tp in schema.items():
            if not isinstance(zone, str) or not zone or "." in zone:
                raise ArgumentError(f"TheusEngine: schema: keys are zone names such as 'domain', got {zone!r} "
                                    "(describe deeper structure with nested models or dict[str, Model] fields)")
            if zone == "outbox":
                raise ArgumentError("TheusEngine: schema: the outbox zone belongs to the engine and takes no schema")
            model = isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)
            if not model and not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
                raise ArgumentError(f"TheusEngine: schema[{zone!r}]: expected a pydantic model class or a dataclass, "
                                    f"got {tp!r}")
            self._zones[zone] = _Node(tp, tp.__name__)

    @property
    def zones(self) -> dict[str, type]:
        """The declared zones and their types."""
        return {z: n.tp for z, n in self._zones.items()}

    def initial(self, context: dict[str, Any]) -> dict[str, Any]:
        """The initial context with every declared zone validated (a missing zone is built from
        the model's defaults); raises :class:`ContractViolationError` when one does not fit."""
        out = dict(context)
        for zone, node in self._zones.items():
            value = out.get(zone, {})
            try:
                out[zone] = node.validate(value, zone)
            except ContractViolationError as e:
                err = ContractViolationError(f"TheusEngine: context: {e}")
                err.path = zone  # type: ignore[attr-defined]
                raise err from None
        return out

    def check(self, updates: Any, where: str) -> Any:
        """``updates`` with every value written under a declared zone validated and coerced
        (the same dict when nothing changed); raises :class:`ContractViolationError` naming
        ``where``, the path and the field error. Anything that is not a dict of str paths is
        left for the commit to refuse."""
        if type(updates) is not dict and not isinstance(updates, Mapping):
            return updates
        zones = self._zones
        out = None
        for path, value in updates.items():
            if type(path) is not str:
                continue
            zone = path.partition(".")[0]
            if zone not in zones:
                continue
            found = self._paths.get(path)
            if found is not None and found[0] is not None and value.__class__ is found[0]._exact:
                continue  # the hot case: a plain value of exactly its field's type
            try:
                new = self._check(zones[zone], zone, path, value)
            except ContractViolationError as e:
                err = ContractViolationError(f"{where}: {e}")
                err.path = path  # type: ignore[attr-defined]
                raise err from None
            if new is not value:
                if out is None:
                    out = dict(updates)
                out[path] = new
        return updates if out is None else out

    def _check(self, root: _Node, zone: str, path: str, value: Any) -> Any:
        found = self._paths.get(path)
        if found is None:
            node: _Node | None = root
            removable = False
            done = zone
            for seg in path.split(".")[1:]:
                done = f"{done}.{seg}"
                node, removable = node.child(seg, done)
                if node is None:
                    break
            found = (node, removable)
            if len(self._paths) >= _CACHE_LIMIT:
                self._paths.clear()
            self._paths[path] = found
        node, removable = found
        if value is DELETE:
            if removable:
                return value
            what = f"the {zone!r} zone" if path == zone else f"declared field {path!r}"
            raise _violation(path, f"{what} cannot be removed (write a valid value instead)")
        return value if node is None else node.validate(value, path)
