"""The `theus` command (also `python -m theus`): prints the version and the usage for now."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__


def parser() -> argparse.ArgumentParser:
    """The argument parser of the `theus` command."""
    p = argparse.ArgumentParser(
        prog="theus",
        description="theus: a process-oriented state kernel for Python, with its core in Go.",
        epilog="Use theus from Python: `from theus import TheusEngine, process`. "
        "`python -m theus.demo` runs the demo workflow.",
    )
    p.add_argument("--version", action="version", version=f"theus {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `theus` command with `argv` (default: sys.argv[1:]) and returns its exit status."""
    p = parser()
    p.parse_args(argv)
    p.print_usage(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
