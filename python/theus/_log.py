"""theus's loggers (``theus.engine``, ``theus.flux``, ``theus.outbox``) without importing
:mod:`logging` at ``import theus``: until the application has imported logging nobody can be
listening, so nothing is formatted. Once it has, each logger is the standard one, and the
``theus`` logger carries a NullHandler (silent until the application configures logging)."""

from __future__ import annotations

import sys

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40


class Logger:
    """A standard logger made on first use; every call is a no-op while logging is not imported."""

    __slots__ = ("name", "_real")

    def __init__(self, name: str) -> None:
        self.name = name
        self._real: Any = None

    def _get(self) -> Any:
        real = self._real
        if real is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            root = logging.getLogger("theus")
            if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
                root.addHandler(logging.NullHandler())
            real = self._real = logging.getLogger(self.name)
        return real

    def isEnabledFor(self, level: int) -> bool:
        real = self._get()
        return real is not None and real.isEnabledFor(level)

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        real = self._get()
        if real is not None:
            real.log(level, msg, *args, **kwargs)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log(DEBUG, msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log(INFO, msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log(WARNING, msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **kwargs)


def get_logger(name: str) -> Logger:
    """The theus logger of that name."""
    return Logger(name)
