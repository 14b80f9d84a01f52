"""The docs' Python code blocks run as written, and the API reference matches the docstrings."""

from __future__ import annotations

import pathlib
import re
import runpy

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", ["tutorial.md", "errors.md"])
def test_doc_blocks_run_in_order(name):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)
    assert blocks, f"{name} should show Python code"
    namespace: dict = {"__name__": f"docs_{name}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{name} block {i}", "exec"), namespace)


def test_the_api_reference_is_current():
    gen = runpy.run_path(str(DOCS / "gen_api.py"))
    assert (DOCS / "api.md").read_text() == gen["render"](), "run .venv/bin/python docs/gen_api.py"
