"""Record classes without the cost of typing and dataclasses: ``import theus`` stays cheap.

``typing`` and ``dataclasses`` (which brings inspect, re, enum, ast, ...) cost more to import
than the rest of theus's Python side together, for a few record classes. This module builds
the same classes from the same class bodies:

- ``class R(NamedTuple)`` gives a ``collections.namedtuple`` with the annotated fields, their
  defaults, the docstring and any methods, as ``typing.NamedTuple`` does (the class is a plain
  tuple subclass; ``_replace``, ``_asdict``, ``_fields``, pickling work as for any namedtuple);
- ``@dataclass(frozen=..., eq=...)`` with ``field(init=..., repr=...)`` gives the ``__init__``
  (calling ``__post_init__``), ``__repr__``, ``__eq__``, ``__hash__``, ``__match_args__`` and
  frozen ``__setattr__``/``__delattr__`` the real decorator would. Assigning to a frozen
  instance raises ``dataclasses.FrozenInstanceError``; ``dataclasses.fields``, ``replace``,
  ``asdict`` and ``is_dataclass`` work on these classes, because their
  ``__dataclass_fields__`` is built by the real module on first read.

Only what theus's own classes use is supported (no inheritance between records, no
``default_factory``, ``order``, ``slots`` or ``kw_only``); anything else raises TypeError
when the class is defined. Type checkers see typing.NamedTuple and dataclasses themselves:
the modules import those under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import collections
from _thread import get_ident

__all__ = ["NamedTuple", "dataclass", "field"]

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any, Callable

# --- NamedTuple ------------------------------------------------------------------------------

# names a NamedTuple body may not define, and those it defines that are not copied over (as in
# typing.NamedTuple)
_PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                         "_make", "_replace", "_asdict", "_source"})
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        if ns.get("_record_base"):
            return super().__new__(mcls, name, bases, ns)
        if bases != (NamedTuple,):
            raise TypeError(f"{name}: a NamedTuple record derives from NamedTuple alone")
        annotations = ns.get("__annotations__", {})
        defaults = []
        for f in annotations:
            if f in ns:
                defaults.append(f)
            elif defaults:
                raise TypeError(f"{name}: field {f} without a default follows fields with defaults {defaults}")
        make: Any = collections.namedtuple  # called with names known at run time only
        cls = make(name, list(annotations), defaults=[ns[f] for f in defaults], module=ns["__module__"])
        cls.__annotations__ = cls.__new__.__annotations__ = dict(annotations)
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in cls._fields:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Base of a record class: ``class R(NamedTuple): x: int; y: str = ""``."""

    _record_base = True


# --- dataclass -------------------------------------------------------------------------------

_MISSING: Any = object()


class _Field:
    __slots__ = ("name", "type", "default", "init", "repr")

    def __init__(self, default: Any, init: bool, repr: bool) -> None:
        self.name = ""
        self.type: Any = None
        self.default = default
        self.init = init
        self.repr = repr


def field(*, default: Any = _MISSING, init: bool = True, repr: bool = True) -> Any:
    """A field's options, as ``dataclasses.field`` (``default``, ``init`` and ``repr`` only)."""
    return _Field(default, init, repr)


def dataclass(cls: type | None = None, /, *, frozen: bool = False, eq: bool = True) -> Any:
    """The class with the methods ``dataclasses.dataclass(frozen=frozen, eq=eq)`` would add."""

    def wrap(cls: type) -> type:
        return _build(cls, frozen, eq)

    return wrap if cls is None else wrap(cls)


def _build(cls: type, frozen: bool, eq: bool) -> type:
    name = cls.__qualname__
    if any("__dataclass_fields__" in vars(base) for base in cls.__mro__[1:]):
        raise TypeError(f"{name}: a record class cannot derive from another")
    fields: list[_Field] = []
    for fname, ftype in cls.__dict__.get("__annotations__", {}).items():
        value = cls.__dict__.get(fname, _MISSING)
        f = value if isinstance(value, _Field) else _Field(value, True, True)
        f.name, f.type = fname, ftype
        if f.default is not _MISSING and f.default.__class__.__hash__ is None:
            raise ValueError(f"{name}.{fname}: mutable default {type(f.default)} is not allowed")
        if isinstance(value, _Field):  # the class attribute is the default, or nothing
            if f.default is _MISSING:
                delattr(cls, fname)
            else:
                setattr(cls, fname, f.default)
        fields.append(f)
    init = [f for f in fields if f.init]
    seen_default = False
    for f in init:
        if f.default is not _MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{name}: non-default argument {f.name!r} follows default argument")

    set_ = "__object_setattr__(self, {0!r}, {1})" if frozen else "self.{0} = {1}"
    params = ["self"] + [f.name if f.default is _MISSING else f"{f.name}=__default_{f.name}" for f in init]
    body = [set_.format(f.name, f.name if f.init else f"__default_{f.name}")
            for f in fields if f.init or f.default is not _MISSING]
    if "__post_init__" in cls.__dict__:
        body.append("self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    env: dict[str, Any] = {f"__default_{f.name}": f.default for f in fields if f.default is not _MISSING}
    env["__object_setattr__"] = object.__setattr__
    exec(source, env)
    __init__ = env["__init__"]
    __init__.__annotations__ = {**{f.name: f.type for f in init}, "return": None}
    _method(cls, __init__)

    shown = tuple(f.name for f in fields if f.repr)

    def __repr__(self: Any) -> str:
        key = (id(self), get_ident())
        if key in _repr_running:
            return "..."
        _repr_running.add(key)
        try:
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        finally:
            _repr_running.discard(key)
        return f"{self.__class__.__qualname__}({inner})"

    _method(cls, __repr__)
    names = tuple(f.name for f in fields)
    class_hash = cls.__dict__.get("__hash__", _MISSING)
    explicit_hash = not (class_hash is _MISSING or (class_hash is None and "__eq__" in cls.__dict__))
    if eq:
        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is not self.__class__:
                return NotImplemented
            return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

        _method(cls, __eq__)
        if explicit_hash:
            pass
        elif frozen:
            def __hash__(self: Any) -> int:
                return hash(tuple(getattr(self, n) for n in names))

            _method(cls, __hash__)
        else:
            cls.__hash__ = None  # type: ignore[assignment]
    if frozen:
        if "__setattr__" in cls.__dict__ or "__delattr__" in cls.__dict__:
            raise TypeError(f"{name}: a frozen record cannot define __setattr__ or __delattr__")
        owner: Any = cls

        def __setattr__(self: Any, attr: str, value: Any) -> None:
            if type(self) is cls or attr in names:
                raise _frozen_error(f"cannot assign to field {attr!r}")
            super(owner, self).__setattr__(attr, value)

        def __delattr__(self: Any, attr: str) -> None:
            if type(self) is cls or attr in names:
                raise _frozen_error(f"cannot delete field {attr!r}")
            super(owner, self).__delattr__(attr)

        _method(cls, __setattr__)
        _method(cls, __delattr__)
    setattr(cls, "__match_args__", tuple(f.name for f in init))
    for attr in ("__dataclass_fields__", "__dataclass_params__"):
        type.__setattr__(cls, attr, _DataclassInfo(attr, cls, fields, frozen, eq))
    return cls


def _method(cls: type, fn: Callable[..., Any]) -> None:
    """Add a generated method, unless the class body defines its own (as dataclasses does)."""
    if fn.__name__ in cls.__dict__ and fn.__name__ not in ("__hash__", "__setattr__", "__delattr__"):
        return
    fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    fn.__module__ = cls.__module__
    setattr(cls, fn.__name__, fn)


_repr_running: set[tuple[int, int]] = set()  # reprs in progress: a cycle shows as "..."


def _frozen_error(message: str) -> AttributeError:
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


class _DataclassInfo:
    """``__dataclass_fields__`` (or ``__dataclass_params__``) of a record class, made by the
    dataclasses module from the same fields the first time either is read (so its functions
    treat the class as a dataclass); both then replace their placeholders on the class."""

    def __init__(self, attr: str, cls: type, fields: list[_Field], frozen: bool, eq: bool) -> None:
        self.attr, self.cls, self.fields, self.frozen, self.eq = attr, cls, fields, frozen, eq

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        import dataclasses

        cls = self.cls
        ns: dict[str, Any] = {"__annotations__": {f.name: f.type for f in self.fields},
                              "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        for f in self.fields:
            kw = {} if f.default is _MISSING else {"default": f.default}
            ns[f.name] = dataclasses.field(init=f.init, repr=f.repr, **kw)
        twin: Any = dataclasses.dataclass(frozen=self.frozen, eq=self.eq)(type(cls.__name__, (), ns))
        for attr in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, attr, twin.__dict__[attr])
        return cls.__dict__[self.attr]
