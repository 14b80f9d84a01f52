"""Fixtures for the packaging tests.

Tests marked `dist` check the built distributions that `make wheel-check` puts in
THEUS_DIST_DIR (the sdist, the wheel built from it, and the auditwheel-repaired wheel in
wheelhouse/); without that variable they are skipped.
"""

from __future__ import annotations

import os
import pathlib

import pytest


@pytest.fixture(scope="session")
def dist_dir() -> pathlib.Path:
    given = os.environ.get("THEUS_DIST_DIR")
    if not given:
        pytest.skip("THEUS_DIST_DIR is not set: `make wheel-check` builds the distributions and runs these tests")
    return pathlib.Path(given)


def only(paths: list[pathlib.Path], what: str) -> pathlib.Path:
    assert len(paths) == 1, f"expected exactly one {what}, found {[p.name for p in paths]}"
    return paths[0]


@pytest.fixture(scope="session")
def sdist(dist_dir: pathlib.Path) -> pathlib.Path:
    return only(sorted(dist_dir.glob("theus-*.tar.gz")), "sdist")


@pytest.fixture(scope="session")
def wheel(dist_dir: pathlib.Path) -> pathlib.Path:
    """The auditwheel-repaired (manylinux) wheel."""
    return only(sorted((dist_dir / "wheelhouse").glob("theus-*.whl")), "repaired wheel")
