"""The Jupyter tests' kernel: one kernelspec, named theus-test, that runs this interpreter
(the venv with theus installed), not the system one."""

from __future__ import annotations

import json
import sys

import pytest


@pytest.fixture(autouse=True)
def _kernelspec(tmp_path, monkeypatch):
    spec = tmp_path / "kernels" / "theus-test"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "theus test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
