"""The heavy zone: large buffers held by reference.

Values written at a path under ``heavy`` (``outputs=["heavy.frame"]``) are not copied when the
engine can make sure nobody changes them afterwards: a numpy array whose memory it can lock is
taken as it is (the array and its ``.base`` chain become read-only), ``bytes`` are shared.
Memory the engine cannot lock (a ``bytearray``, an ``mmap``, a writable ``memoryview``, a torch
tensor, an array over one of those) is copied on commit, unless the caller passes it with
:func:`adopt`, which promises not to write it. :func:`copy` asks for a private copy even when a
reference would do. Processes read heavy values as read-only views of the same memory.

:func:`share` puts an array in shared memory for ``multiprocessing`` workers started with
``spawn`` or ``forkserver`` (a process forked after theus is imported cannot use theus).
"""

from __future__ import annotations

import mmap
import os
import weakref

TYPE_CHECKING: bool = False
if TYPE_CHECKING:
    from typing import Any

from . import _core
from .errors import ArgumentError

__all__ = ["adopt", "copy", "share", "stats", "SharedArray"]

_ADOPT = 1
_COPY = 2


def adopt(value: Any) -> Any:
    """Mark ``value`` to be committed under the heavy zone by reference, without a copy.

    For memory theus cannot lock (``bytearray``, ``mmap``, writable ``memoryview``,
    ``array.array``, torch tensors, numpy arrays over any of those), the caller promises not to
    write it while the state holds it. theus holds a buffer export on a non-numpy owner for as
    long as a version references it, so a ``bytearray`` cannot be resized and an ``mmap``
    cannot be closed meanwhile; numpy arrays on the chain are still made read-only. Use it only
    as the value of a ``heavy.*`` path (elsewhere it is refused)::

        return theus.heavy.adopt(frame_buffer)
    """
    return _core._heavy_ref(value, _ADOPT)


def copy(value: Any) -> Any:
    """Mark ``value`` to be copied into the heavy zone on commit: full isolation from the
    caller, who keeps a writable original (an array keeps its type and, where numpy can, its
    memory layout). Use it only as the value of a ``heavy.*`` path."""
    return _core._heavy_ref(value, _COPY)


def stats() -> dict[str, int]:
    """The heavy values alive in this process: ``{"values": n, "bytes": b}``. A heavy value
    lives while a version of some state references it, or a buffer view read from it is
    alive; ``bytes`` counts each value's ``nbytes`` (a broadcast view counts what it spans)."""
    return _core._heavy_stats()


def _shm_path(name: str) -> str:
    return "/dev/shm/" + name.lstrip("/")


def _map_readonly(name: str, nbytes: int) -> mmap.mmap | None:
    """A read-only mapping of the shared memory segment ``name`` (None for zero bytes). Opening
    the segment directly keeps multiprocessing's resource tracker out of it: on CPython 3.11
    attaching through SharedMemory registers the segment, and the tracker would unlink it (and
    warn) when the worker exits."""
    if nbytes == 0:
        return None
    try:
        fd = os.open(_shm_path(name), os.O_RDONLY)
    except FileNotFoundError:
        raise ArgumentError(
            f"theus.heavy.SharedArray {name!r}: the shared memory segment is gone (its owner "
            f"closed it); keep the owner open while workers read it"
        ) from None
    try:
        return mmap.mmap(fd, nbytes, prot=mmap.PROT_READ)
    finally:
        os.close(fd)


def _unlink(shm: Any) -> None:
    """Finalizer of an owned segment: unlink its name, then unmap it (closing fails while
    arrays over the owner's own mapping exist; the mapping then goes with them)."""
    try:
        shm.unlink()
    except FileNotFoundError:
        pass
    try:
        shm.close()
    except BufferError:
        pass


class SharedArray:
    """A numpy array in a POSIX shared memory segment, readable by other processes without a
    copy. The process that called :func:`share` owns the segment: :meth:`close` (or leaving
    the ``with`` block, or the object being collected, or the interpreter exiting) unlinks it,
    whatever happened to the workers. Pickled (as ``Pool`` and ``Process`` arguments are), it
    becomes a handle that does not own the segment; :attr:`array` in a worker maps it read-only.

    Workers must be started with the ``spawn`` or ``forkserver`` method::

        with theus.heavy.share(big) as shared:
            with multiprocessing.get_context("spawn").Pool(4) as pool:
                pool.map(work, [shared] * 4)       # work(shared) reads shared.array
    """

    __slots__ = ("name", "shape", "dtype", "nbytes", "_owner", "_array", "__weakref__")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: Any, nbytes: int, owner: Any = None) -> None:
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.nbytes = nbytes
        self._owner = owner  # the finalizer that unlinks the segment, in the owning process
        self._array: Any = None

    @property
    def owner(self) -> bool:
        """Whether this object owns (and will unlink) the segment."""
        return self._owner is not None and self._owner.alive

    @property
    def array(self) -> Any:
        """The array: read-only, over a read-only mapping of the segment (no copy). An array
        taken before :meth:`close` stays valid (a mapping outlives the segment's name); after
        it, reading this attribute anew raises ArgumentError."""
        if self._array is None:
            import numpy as np

            m = _map_readonly(self.name, self.nbytes)
            if m is None:
                a = np.empty(self.shape, self.dtype)
            else:
                a = np.frombuffer(m, dtype=self.dtype, count=self.nbytes // self.dtype.itemsize).reshape(self.shape)
            a.setflags(write=False)
            self._array = a
        return self._array

    def close(self) -> None:
        """Unlink the segment (in the owner; idempotent). In a worker, drop this handle's
        reference to its mapping."""
        self._array = None
        if self._owner is not None:
            self._owner()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __reduce__(self) -> Any:
        return (SharedArray, (self.name, self.shape, self.dtype, self.nbytes))

    def __repr__(self) -> str:
        role = "owner" if self.owner else "handle"
        return f"<theus.heavy.SharedArray {self.name} shape={self.shape} dtype={self.dtype} {self.nbytes} bytes ({role})>"


def share(value: Any) -> SharedArray:
    """Copy ``value`` (a numpy array, or anything ``numpy.asarray`` turns into one without
    Python objects: a heavy view, bytes, a buffer) into a new shared memory segment once, and
    return the :class:`SharedArray` that owns it. Workers started with ``spawn`` or
    ``forkserver`` read ``shared.array`` without copying; the segment is unlinked on
    :meth:`SharedArray.close`, at the end of a ``with`` block, when the owner is collected, or
    at interpreter exit, even when a worker was killed."""
    import numpy as np
    from multiprocessing import shared_memory

    src = np.asarray(value)
    if src.dtype.hasobject:
        raise ArgumentError(
            "theus.heavy.share: an array of Python objects cannot live in shared memory; share "
            "numeric or byte arrays"
        )
    nbytes = int(src.nbytes)
    shm = shared_memory.SharedMemory(create=True, size=max(nbytes, 1))
    try:
        if nbytes:
            dst = np.ndarray(src.shape, src.dtype, buffer=shm.buf)
            dst[...] = src
            del dst  # release the export of shm.buf, so close() can unmap it
    except BaseException:
        _unlink(shm)
        raise
    shared = SharedArray(shm.name, tuple(src.shape), src.dtype, nbytes)
    shared._owner = weakref.finalize(shared, _unlink, shm)
    return shared
