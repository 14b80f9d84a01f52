"""Write docs/api.md, the API reference, from the docstrings of theus's public names.

Run it after changing a public docstring or signature: `.venv/bin/python docs/gen_api.py`
(tests/test_docs.py fails while docs/api.md is out of date).
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import sys

OUT = pathlib.Path(__file__).resolve().parent / "api.md"
MODULES = ("theus", "theus.heavy", "theus.schema", "theus.testing", "theus.display", "theus.events")


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip() or "(no docstring)"


def _sig(obj: object) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)  # sentinel defaults: no addresses


def _members(cls: type) -> list[str]:
    out = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_") and name not in ("__init__",):
            continue
        if isinstance(member, property):
            out.append(f"- `{name}` (property): {_doc(member).splitlines()[0]}")
        elif isinstance(member, (staticmethod, classmethod)):
            fn = member.__func__
            out.append(f"- `{name}{_sig(fn)}`: {_doc(fn).splitlines()[0]}")
        elif inspect.isfunction(member) or inspect.ismethoddescriptor(member):
            if name == "__init__":
                continue
            out.append(f"- `{name}{_sig(member)}`: {_doc(member).splitlines()[0]}")
    return out


def _entry(qual: str, obj: object) -> list[str]:
    if inspect.ismodule(obj):
        return [f"### module `{qual}`", "", _doc(obj).split("\n\n")[0], ""]
    if inspect.isclass(obj):
        lines = [f"### class `{qual}{_sig(obj)}`", "", _doc(obj), ""]
        members = _members(obj)
        if members:
            lines += members + [""]
        return lines
    if callable(obj):
        return [f"### `{qual}{_sig(obj)}`", "", _doc(obj), ""]
    return [f"### `{qual}`", "", f"`{obj!r}`", ""]


def render() -> str:
    """The reference as markdown."""
    lines = ["# API reference", "",
             "Generated from the docstrings by `docs/gen_api.py`; the tutorial is [tutorial.md](tutorial.md),",
             "the workflow language [flux.md](flux.md), the errors [errors.md](errors.md).", ""]
    for modname in MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        names = getattr(mod, "__all__", [])
        if modname == "theus":
            names = [n for n in names]
        lines += [f"## `{modname}`", "", _doc(mod).split("\n\n")[0], ""]
        for name in names:
            lines += _entry(f"{modname}.{name}" if modname != "theus" else f"theus.{name}", getattr(mod, name))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
