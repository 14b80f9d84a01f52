"""theus.Context[Model]: an IDE (jedi) completes ctx.domain.<field> and a type checker (mypy)
knows the field types, refuses unknown fields and writes to the zone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jedi

import theus

SOURCE = textwrap.dedent('''
    from typing import Protocol
    from pydantic import BaseModel
    import theus

    class Order(BaseModel):
        qty: int
        status: str

    class Limits(BaseModel):
        cap: int

    class Ctx(theus.Context[Order], Protocol):
        @property
        def global_(self) -> Limits: ...

    def bump(ctx: theus.Context[Order]) -> int:
        reveal_type(ctx.domain.qty)
        return ctx.domain.qty + 1

    def wrong(ctx: theus.Context[Order]) -> int:
        return ctx.domain.nope

    def capped(ctx: Ctx) -> int:
        ctx.domain = Order(qty=1, status="x")
        return ctx.global_.cap
''')


def test_jedi_completes_the_model_fields() -> None:
    src = SOURCE + "\ndef probe(ctx: theus.Context[Order]):\n    return ctx.domain."
    lines = src.splitlines()
    names = {c.name for c in jedi.Script(src).complete(len(lines), len(lines[-1]))}
    assert {"qty", "status"} <= names


def test_mypy_knows_field_types_and_refuses_mistakes(tmp_path) -> None:
    path = tmp_path / "typed_ctx.py"
    path.write_text(SOURCE)
    # a subprocess: mypy run in-process raises this interpreter's recursion limit for good
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                           "--no-error-summary", str(path)], capture_output=True, text=True, timeout=300)
    out, status = proc.stdout, proc.returncode
    assert status == 1, (out, proc.stderr)
    assert 'Revealed type is "int"' in out or 'Revealed type is "builtins.int"' in out
    assert '"Order" has no attribute "nope"' in out
    assert 'Property "domain" defined in "Context" is read-only' in out
    assert out.count("error:") == 2, out


def test_context_is_exported_and_only_a_type() -> None:
    assert theus.Context is theus.schema.Context
    assert "Context" in theus.__all__
