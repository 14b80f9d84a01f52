"""Modules imported on first use, so that `import theus` does not pay for them."""

from __future__ import annotations

import sys
import types

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any


class _LazyModule(types.ModuleType):
    """A stand-in for a module: the first attribute read imports it and then reads from it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_target"] = None

    def __getattr__(self, attr: str) -> Any:
        module = self.__dict__["_target"]
        if module is None:
            __import__(self.__name__)
            module = self.__dict__["_target"] = sys.modules[self.__name__]
        return getattr(module, attr)


def lazy_module(name: str) -> Any:
    """``name`` imported when an attribute of it is first read."""
    return _LazyModule(name)
