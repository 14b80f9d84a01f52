"""Process contracts: the @process decorator, StateUpdate and output mapping."""

from __future__ import annotations

import functools

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any, Callable, Iterable, Mapping, TypeVar
else:
    from ._records import dataclass, field

from . import _core
from .errors import ArgumentError, ContractViolationError
from .outbox import ZONE as _OUTBOX, check_contract as _check_outbox
from .retry import RetryPolicy

__all__ = ["process", "StateUpdate", "ProcessSpec", "spec_of"]

if TYPE_CHECKING:
    F = TypeVar("F", bound=Callable[..., Any])

_SEMANTICS = ("pure", "effect")


class StateUpdate:
    """An explicit set of writes returned by a process: ``StateUpdate({"domain.x": 1, ...})``.

    Every path must lie within the process's declared ``outputs``.
    """

    __slots__ = ("updates",)

    def __init__(self, updates: Mapping[str, Any] | None = None, /, **kw: Any) -> None:
        merged = dict(updates or {})
        merged.update(kw)
        for key in merged:
            if not isinstance(key, str):
                raise ContractViolationError(f"StateUpdate: paths are str, got {key!r}")
        self.updates = merged

    def __repr__(self) -> str:
        return f"StateUpdate({self.updates!r})"


def check_path(path: object, what: str) -> str:
    """Validate one dotted path of a contract."""
    if not isinstance(path, str):
        raise ContractViolationError(f"{what}: a path is a dotted str such as 'domain.counter', got {path!r}")
    if not path or any(not seg for seg in path.split(".")):
        raise ContractViolationError(f"{what}: malformed path {path!r} (empty segment); write e.g. 'domain.counter'")
    return path


_PLACEHOLDER: Any = None  # the compiled {name} pattern, made with the first keyed contract


def _placeholder_re() -> Any:
    global _PLACEHOLDER
    if _PLACEHOLDER is None:
        import re

        _PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
    return _PLACEHOLDER


def placeholders(path: str, what: str) -> tuple[str, ...]:
    """The ``{name}`` placeholders of a contract path, in order. A placeholder is a whole
    segment below the zone (``domain.orders.{order_id}.status``); braces anywhere else are an
    error, so a typo cannot become a literal key."""
    if "{" not in path and "}" not in path:
        return ()
    names = []
    for i, seg in enumerate(path.split(".")):
        if "{" not in seg and "}" not in seg:
            continue
        m = _placeholder_re().fullmatch(seg)
        if m is None:
            raise ContractViolationError(
                f"{what}: {path!r}: segment {seg!r} is not a placeholder; a placeholder is a whole "
                "segment such as '{order_id}' (a Python identifier in braces)"
            )
        if i == 0:
            raise ContractViolationError(
                f"{what}: {path!r}: the zone cannot be a placeholder; key the paths below it, "
                "e.g. 'domain.orders.{order_id}'"
            )
        names.append(m.group(1))
    return tuple(names)


def _key_text(spec_name: str, name: str, value: Any) -> str:
    """The path segment a placeholder binding stands for: a non-empty str without '.', or an
    int (written in decimal). Anything else is a ContractViolationError naming the placeholder."""
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return str(int(value))
    if isinstance(value, str):
        if not value or "." in value:
            raise ContractViolationError(
                f"{spec_name}: placeholder {{{name}}} = {value!r}: a key must be a non-empty str "
                "without '.' (the path separator), or an int"
            )
        return value
    raise ContractViolationError(
        f"{spec_name}: placeholder {{{name}}} = {value!r}: expected a str or an int key, got "
        f"{type(value).__name__}"
    )


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root + ".")


def _is_async(fn: Any) -> bool:
    """Whether calling fn gives an awaitable: an ``async def`` function, one behind
    ``functools.wraps`` or ``functools.partial``, or an object whose ``__call__`` is one.
    (The engine also checks each return value, so a wrapper this misses is still awaited.)"""
    import inspect  # a process is being decorated: not paid by an import of theus

    for _ in range(100):  # a bound on __wrapped__ chains (they may loop)
        if inspect.iscoroutinefunction(fn):
            return True
        if isinstance(fn, functools.partial):
            fn = fn.func
            continue
        try:
            inner = None if isinstance(fn, type) else inspect.getattr_static(fn, "__wrapped__", None)
        except Exception:
            inner = None
        if inner is not None and inner is not fn:
            fn = inner
            continue
        break
    if isinstance(fn, type) or inspect.isroutine(fn):
        return False
    call = inspect.getattr_static(type(fn), "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


@dataclass(frozen=True, eq=False)
class ProcessSpec:
    """The contract of a process, attached to the decorated function as ``__theus_process__``."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    semantic: str
    errors: tuple[type[BaseException], ...]
    retries: int | None
    is_async: bool
    retry: RetryPolicy | None = None
    paths: tuple[str, ...] = field(init=False)
    keys: tuple[str, ...] = field(init=False)
    leaves: dict[str, str] = field(init=False)
    ambiguous: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    single: str | None = field(init=False)
    effect: bool = field(init=False, repr=False)
    sends: bool = field(init=False, repr=False)
    plan: Any = field(init=False, repr=False)
    reads: Any = field(init=False, repr=False)
    hot: tuple[Any, ...] = field(init=False, repr=False)
    _params: frozenset[str] | None = field(init=False, repr=False)
    _bound: dict[tuple[str, ...], ProcessSpec] = field(init=False, repr=False)
    _fitted: set[frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_outbox(self.name, self.inputs, self.outputs, self.semantic)
        seen: dict[str, None] = {}
        for p in (*self.inputs, *self.outputs):
            seen.setdefault(p, None)
        # The output "outbox" appends messages: it is no state path the process reads or
        # replaces, so it is neither shown in ctx (ctx.outbox is the buffer) nor conflict-checked.
        seen.pop(_OUTBOX, None)
        object.__setattr__(self, "paths", tuple(seen))
        keys: dict[str, None] = {}
        for p in self.paths:
            for k in placeholders(p, f"{self.name}: path"):
                keys.setdefault(k, None)
        object.__setattr__(self, "keys", tuple(keys))
        object.__setattr__(self, "_params", _keyword_params(self.fn))
        object.__setattr__(self, "_bound", {})
        object.__setattr__(self, "_fitted", set())
        if keys:  # a template: bound per call (bind), the bound contracts hold the plans
            object.__setattr__(self, "plan", None)
            object.__setattr__(self, "reads", None)
        else:
            # the declared paths parsed once in the core, owned by a Handle freed with the
            # spec; `reads` (the inputs alone) is what a commit conflict-checks besides the
            # paths it actually writes
            object.__setattr__(self, "plan", _core.plan_new(self.paths, self.name))
            object.__setattr__(self, "reads", _core.plan_new(self.inputs, self.name))
        object.__setattr__(self, "sends", _OUTBOX in self.outputs)
        object.__setattr__(self, "single", self.outputs[0] if len(self.outputs) == 1 else None)
        object.__setattr__(self, "effect", self.semantic == "effect")
        by_leaf: dict[str, list[str]] = {}
        for out in self.outputs:
            by_leaf.setdefault(out.rsplit(".", 1)[-1], []).append(out)
        object.__setattr__(self, "leaves", {k: v[0] for k, v in by_leaf.items() if len(v) == 1})
        object.__setattr__(self, "ambiguous", {k: tuple(v) for k, v in by_leaf.items() if len(v) > 1})
        # what every attempt reads, in one tuple (the engine's attempt loop unpacks it at once)
        object.__setattr__(self, "hot", (self.fn, self.plan, self.reads, self.single, self.effect, self.retry, self.sends))

    def prepare(self, kwargs: dict[str, Any]) -> tuple[ProcessSpec, dict[str, Any]]:
        """The contract and keyword arguments of one call: a keyed contract bound to the
        call's placeholder values (see :meth:`bind`), the arguments checked against the
        function's parameters."""
        if self.keys:
            return self.bind(kwargs)
        if kwargs:
            self.check_kwargs(kwargs)
        return self, kwargs

    def bind(self, kwargs: Mapping[str, Any]) -> tuple[ProcessSpec, dict[str, Any]]:
        """Bind the ``{name}`` placeholders of the paths to the call's keyword arguments:
        returns the contract of that key (an ordinary contract over concrete paths, cached per
        key) and the keyword arguments the function receives (the placeholders it accepts as
        parameters, and every other argument)."""
        missing = [k for k in self.keys if k not in kwargs]
        if missing:
            names = ", ".join(f"{{{k}}}" for k in missing)
            example = ", ".join(f"{k}=..." for k in missing)
            raise ContractViolationError(
                f"{self.name}: placeholder {names} of its paths {list(self.paths)} is not bound; pass "
                f"it as a keyword argument (engine.execute({self.name}, {example}), or in Flux as a "
                "run arg or under with:)"
            )
        values = tuple(_key_text(self.name, k, kwargs[k]) for k in self.keys)
        bound = self._bound.get(values)
        if bound is None:
            sub = dict(zip(self.keys, values))

            def fill(path: str) -> str:
                return _placeholder_re().sub(lambda m: sub[m.group(1)], path)

            bound = ProcessSpec(self.name, self.fn, tuple(map(fill, self.inputs)),
                                tuple(map(fill, self.outputs)), self.semantic, self.errors,
                                self.retries, self.is_async, self.retry)
            if len(self._bound) >= _BOUND_CACHE:
                self._bound.clear()
            self._bound[values] = bound
        params = self._params
        if params is None:
            call = dict(kwargs)
        else:
            call = {k: v for k, v in kwargs.items() if k in params or k not in self.keys}
        if call:
            self.check_kwargs(call)
        return bound, call

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        """Raise ContractViolationError unless the process function accepts these keyword
        arguments (from ``execute(fn, **kwargs)`` or a Flux step's ``with:``) besides ctx.
        Whether they fit depends on their names only, so a set of names that fitted once is
        not checked again."""
        names = frozenset(kwargs)
        fitted = self._fitted
        if names in fitted:
            return
        import inspect

        try:
            sig = inspect.signature(self.fn)
        except (TypeError, ValueError):  # no signature to check (a C callable): the call decides
            return
        try:
            sig.bind(None, **kwargs)
        except TypeError as e:
            raise ContractViolationError(
                f"{self.name}: the keyword arguments {sorted(kwargs)} do not fit its parameters ({e}); "
                "declare each keyword argument as a parameter after ctx, or accept **kwargs"
            ) from None
        if len(fitted) < _BOUND_CACHE:
            fitted.add(names)

    def __reduce__(self) -> Any:
        """Copies and pickles rebuild the contract (and its parsed paths) from its fields."""
        return (ProcessSpec, (self.name, self.fn, self.inputs, self.outputs, self.semantic,
                              self.errors, self.retries, self.is_async, self.retry))

    def map_outputs(self, result: Any) -> dict[str, Any] | None:
        """Turn a return value into ``{path: value}`` writes (``None``: nothing to write).

        - ``None``: nothing; a :class:`StateUpdate`: its paths, each within an output;
        - one output: the value itself, or a dict keyed by that output's full path (or paths
          below it), which maps like a StateUpdate: ``{"domain.x": 5}`` sets ``domain.x``;
        - several outputs: a tuple/list with one value per output, in order, or a dict keyed
          by full path (or a path below one), or by the unique leaf name of an output.

        Anything else, and any value from a process without outputs, raises
        :class:`ContractViolationError`.
        """
        outs = self.outputs
        if result is None:
            return None
        if isinstance(result, StateUpdate):
            return self._checked_paths(result.updates, "StateUpdate writes")
        if not outs:
            raise ContractViolationError(
                f"{self.name}: returned a value ({type(result).__name__}) but declares no outputs, so it "
                "would be lost; declare where it goes with outputs=[...], or return None"
            )
        if len(outs) == 1:
            if isinstance(result, dict) and result and self._keyed_by_output(result):
                return self._checked_paths(result, "returned dict key")
            return {outs[0]: result}
        if isinstance(result, (tuple, list)):
            if len(result) != len(outs):
                raise ContractViolationError(
                    f"{self.name}: returned {len(result)} values for {len(outs)} outputs {list(outs)}; "
                    "return one value per output, in order"
                )
            return dict(zip(outs, result))
        if isinstance(result, dict):
            updates: dict[str, Any] = {}
            for key, value in result.items():
                path = self._path_of_key(key)
                if path in updates:
                    raise ContractViolationError(
                        f"{self.name}: output {path!r} returned twice (as a full path and as its leaf name)"
                    )
                updates[path] = value
            return self._checked_paths(updates, "returned dict key")
        raise ContractViolationError(
            f"{self.name}: returned a single {type(result).__name__} for {len(outs)} outputs {list(outs)}; "
            "return a tuple, a dict keyed by output or a StateUpdate"
        )

    def _keyed_by_output(self, result: dict[Any, Any]) -> bool:
        """Whether a dict returned for the single output is keyed by state paths (and so maps
        like a StateUpdate) rather than being the output's new value: it is when a key is the
        output's path, or a dotted path in the output's zone. A mix with plain keys is an error."""
        out = self.outputs[0]
        zone = out.split(".", 1)[0] + "."
        hits = [k for k in result if isinstance(k, str) and (k == out or k.startswith(zone))]
        if not hits:
            return False
        if len(hits) != len(result):
            others = [k for k in result if k not in hits]
            raise ContractViolationError(
                f"{self.name}: the returned dict mixes output paths {hits!r} with other keys {others!r}; "
                f"return {{{out!r}: value}} to map the output, or the new value of {out!r} itself"
            )
        return True

    def _path_of_key(self, key: Any) -> str:
        """The output path a key of a returned dict names (several outputs)."""
        if not isinstance(key, str):
            raise ContractViolationError(
                f"{self.name}: returned dict key {key!r} is not a str; key values by the full path or "
                f"the leaf name of one of {list(self.outputs)}"
            )
        if key in self.outputs or "." in key:
            return key  # a full path (checked against outputs afterwards)
        path = self.leaves.get(key)
        if path is not None:
            return path
        if key in self.ambiguous:
            raise ContractViolationError(
                f"{self.name}: returned key {key!r} is ambiguous: it is the leaf name of the outputs "
                f"{list(self.ambiguous[key])}; use the full path"
            )
        raise ContractViolationError(
            f"{self.name}: returned key {key!r} matches no output; use a full path or the "
            f"unique leaf name of one of {list(self.outputs)}"
        )

    def _checked_paths(self, updates: Mapping[str, Any], what: str) -> dict[str, Any]:
        """updates, after checking that each path is well formed, within the outputs, and
        that no two of them overlap."""
        outs = self.outputs
        paths = list(updates)
        for path in paths:
            check_path(path, f"{self.name}: {what}")
            if not any(_within(path, o) for o in outs):
                raise ContractViolationError(
                    f"{self.name}: {what} {path!r}, which is outside the declared "
                    f"outputs {list(outs)}; add it to outputs=[...]"
                )
        if len(paths) > 1:
            given = set(paths)
            for path in paths:
                parts = path.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in given:
                        raise ContractViolationError(
                            f"{self.name}: {what}s {parent!r} and {path!r} overlap; write the parent or "
                            "the child, not both"
                        )
        return dict(updates)


_BOUND_CACHE = 4096
"""How many bound contracts (keys) a keyed process keeps; beyond that the cache starts over."""


def _keyword_params(fn: Any) -> frozenset[str] | None:
    """The names a function accepts as keyword arguments besides ctx, or None when it accepts
    any (``**kwargs``) or has no signature to read."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    names = []
    for i, p in enumerate(sig.parameters.values()):
        if p.kind is p.VAR_KEYWORD:
            return None
        if i == 0 and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue  # ctx
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    return frozenset(names)


def _paths(value: Any, what: str, *, ordered: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    elif ordered and isinstance(value, (set, frozenset, dict)):
        raise ContractViolationError(
            f"{what}: expected a list of paths (in order: a tuple return maps onto them by position), "
            f"got a {type(value).__name__}"
        )
    try:
        items = list(value)
    except TypeError:
        raise ContractViolationError(f"{what}: expected a list of paths, got {type(value).__name__}") from None
    return tuple(check_path(p, what) for p in items)


def _no_overlap(outputs: tuple[str, ...], name: str) -> None:
    for i, a in enumerate(outputs):
        for b in outputs[i + 1:]:
            if a == b:
                raise ContractViolationError(f"{name}: output {a!r} is declared twice")
            if _within(a, b) or _within(b, a):
                raise ContractViolationError(
                    f"{name}: outputs {a!r} and {b!r} overlap; declare the parent or the child, not both"
                )


def _error_classes(errors: Any, name: str) -> tuple[type[BaseException], ...]:
    if errors is None:
        return ()
    if isinstance(errors, type):
        errors = (errors,)
    try:
        errs = tuple(errors)
    except TypeError:
        raise ContractViolationError(
            f"{name}: errors: expected a list of exception classes, got {type(errors).__name__}"
        ) from None
    for e in errs:
        if not (isinstance(e, type) and issubclass(e, BaseException)):
            raise ContractViolationError(f"{name}: errors must be exception classes, got {e!r}")
    return errs


_OPTIONS = ("inputs", "outputs", "semantic", "errors", "retries", "retry")


def process(
    fn: F | None = None,
    /,
    *args: Any,
    inputs: Iterable[str] | None = None,
    outputs: Iterable[str] | None = None,
    semantic: str = "effect",
    errors: Iterable[type[BaseException]] | None = None,
    retries: int | None = None,
    retry: RetryPolicy | None = None,
    **unknown: Any,
) -> Any:
    """Declare a function as a theus process.

    ``inputs`` are the paths it may read, ``outputs`` the paths its return value writes.
    ``semantic="pure"`` forbids side effects (no outbox), ``"effect"`` (default) allows them.
    ``retries`` overrides the engine's retry count for conflicts; ``retry`` (a
    :class:`RetryPolicy`) re-runs the process when its function raises; ``errors`` lists
    exception types the process may raise as part of its contract (documentation for callers).

    Paths may hold ``{name}`` placeholders as whole segments
    (``inputs=["domain.orders.{order_id}"]``): each call binds them from its keyword arguments
    (``engine.execute(fn, order_id="o7")``), so processes on different keys never conflict.

    The function is returned unchanged (still directly callable in unit tests) with its
    contract attached; bare ``@process`` is allowed. ``async def`` functions (also behind
    ``functools.wraps`` or as an object with ``async def __call__``) are awaited by the engine.
    """
    if unknown:
        key = next(iter(unknown))
        import difflib

        close = difflib.get_close_matches(key, _OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; the options are {', '.join(_OPTIONS)}"
        raise ArgumentError(f"@process: unknown argument {key!r}{hint}")
    if args:
        raise ArgumentError(
            "@process: takes the function only; give the contract by keyword: "
            "@process(inputs=[...], outputs=[...])"
        )

    def wrap(f: F) -> F:
        if not callable(f):
            hint = ""
            if isinstance(f, (list, tuple, str)):
                hint = "; give paths by keyword: @process(inputs=[...], outputs=[...])"
            raise ContractViolationError(f"@process decorates a function, got {type(f).__name__}{hint}")
        name = getattr(f, "__name__", None)
        if not isinstance(name, str) or not name:
            name = repr(f)
        import inspect

        if inspect.isasyncgenfunction(f) or inspect.isgeneratorfunction(f):
            raise ContractViolationError(
                f"{name}: a process returns its result; a generator function (one that yields) cannot "
                "be one (return a list instead)"
            )
        if not isinstance(semantic, str) or semantic not in _SEMANTICS:
            raise ContractViolationError(f"{name}: semantic must be 'pure' or 'effect', got {semantic!r}")
        if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool) or retries < 0):
            raise ContractViolationError(f"{name}: retries must be an int >= 0 or None, got {retries!r}")
        ins = _paths(inputs, f"{name}: inputs")
        outs = _paths(outputs, f"{name}: outputs", ordered=True)
        _no_overlap(outs, name)
        errs = _error_classes(errors, name)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ContractViolationError(
                f"{name}: retry: expected a theus.RetryPolicy(...), got {type(retry).__name__}"
            )
        spec = ProcessSpec(name, f, ins, outs, semantic, errs, retries, _is_async(f), retry)
        try:
            f.__theus_process__ = spec  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            raise ContractViolationError(
                f"{name}: cannot attach a contract to a {type(f).__name__} (it has no attributes); "
                "decorate a function or a def wrapping it"
            ) from None
        if getattr(f, "__module__", None) == "__main__":  # a script or a notebook cell
            from .engine import redefined

            redefined(spec)
        return f

    if fn is not None:
        return wrap(fn)
    return wrap


def spec_of(fn: Any) -> ProcessSpec | None:
    """The contract attached by @process, or None."""
    return getattr(fn, "__theus_process__", None)
