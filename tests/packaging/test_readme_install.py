"""The README tells users how to install theus and contributors the two set-up commands."""

from __future__ import annotations

import re

from packaging_helpers import ROOT

README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.S | re.M)
    assert found, f"README.md has no '## {title}' section"
    return found[1]


def commands(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.split("#")[0].strip()]


def test_contributors_get_exactly_the_two_commands():
    assert commands(section("Set up and run")) == ["make demo", "make test"]


def test_users_install_from_pypi_and_learn_what_needs_go():
    install = section("Install")
    assert "pip install theus" in commands(install)
    for fact in ("need no Go", "Go ≥ 1.26", "glibc ≥ 2.34", "manylinux", "python3-dev"):
        assert fact in install, fact


def test_the_abi3_decision_is_documented_with_numbers():
    setup = section("Set up and run")
    assert "abi3" in setup and "Py_LIMITED_API" in setup
    assert re.search(r"\d+-\d+% slower", setup)
