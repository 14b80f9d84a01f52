"""Marker values with a meaning to theus."""

from __future__ import annotations

__all__ = ["DELETE"]


class _Delete:
    """The type of :data:`DELETE` (a singleton)."""

    __slots__ = ()
    _instance: "_Delete | None" = None

    def __new__(cls) -> "_Delete":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "theus.DELETE"

    def __reduce__(self) -> str:
        return "DELETE"

    def __copy__(self) -> "_Delete":
        return self

    def __deepcopy__(self, memo: dict) -> "_Delete":
        return self


DELETE = _Delete()
"""Write ``DELETE`` as a path's new value to remove that path (and everything below it):
``state.compare_and_swap(v, {"domain.tmp": DELETE})``, ``StateUpdate({"domain.tmp": DELETE})``,
or return it for an output. Removing a path that does not exist raises :class:`PathError`."""
