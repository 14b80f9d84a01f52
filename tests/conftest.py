"""Shared pytest set-up: the tests run against the installed theus, never the source tree."""

from __future__ import annotations

import pathlib

import theus

_SRC = pathlib.Path(__file__).resolve().parent.parent / "python"


def pytest_report_header(config):
    where = pathlib.Path(theus.__file__).resolve()
    assert _SRC not in where.parents, f"tests must import the installed theus, not {where}"
    return f"theus {theus.__version__} from {where.parent}"
