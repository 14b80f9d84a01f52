"""The heavy zone's ownership rule: what a commit takes by reference, what it copies, what it
refuses, and that committed memory cannot be written afterwards through any object theus knows
of (the caller's original, its base chain, the views processes and snapshots read)."""

from __future__ import annotations

import array
import copy
import gc
import mmap
import pickle

import numpy as np
import pytest

import theus
from theus import ArgumentError, ContextError, TheusEngine, process


@pytest.fixture
def quiet_gc():
    """Counts of live heavy values are process-wide: collect what earlier tests left in
    cycles, and keep the collector from freeing more of it while the test counts."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ptr(a) -> int:
    return a.__array_interface__["data"][0]


def new_engine(**heavy):
    return TheusEngine(context={"domain": {"n": 0}, "heavy": dict(heavy)})


def commit_and_read(value, path="heavy.x"):
    """Commit value to path through a process, read it back in another process; returns the
    engine and what the reader saw."""
    engine = new_engine()
    seen = {}

    @process(outputs=[path])
    def write(ctx):
        return value

    @process(inputs=[path])
    def read(ctx):
        seen["v"] = ctx.heavy.x

    engine.execute(write)
    engine.execute(read)
    return engine, seen["v"]


# --- numpy arrays by reference ------------------------------------------------------------------

LAYOUTS = {
    "c": lambda: np.arange(24.0).reshape(4, 6),
    "fortran": lambda: np.asfortranarray(np.arange(24.0).reshape(4, 6)),
    "strided": lambda: np.arange(48.0).reshape(4, 12)[:, ::2],
    "reversed": lambda: np.arange(10)[::-1],
    "big-endian": lambda: np.arange(10, dtype=">i4"),
    "structured": lambda: np.zeros(5, dtype=[("a", "<i4"), ("b", "<f8")]),
    "padded-struct": lambda: np.zeros(5, dtype=np.dtype({"names": ["a"], "formats": ["<i4"], "offsets": [4], "itemsize": 12})),
    "datetime": lambda: np.arange(6).astype("M8[s]"),
    "timedelta": lambda: np.arange(6).astype("m8[ns]"),
    "0-d": lambda: np.array(3.5),
    "zero-length": lambda: np.zeros((0, 3)),
    "unicode": lambda: np.array(["ab", "cde"]),
    "bool": lambda: np.array([True, False]),
    "float16": lambda: np.ones(4, dtype="f2"),
    "complex": lambda: np.ones(4, dtype="c16"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_array_is_taken_by_reference_and_read_as_a_view_of_the_same_memory(layout):
    arr = LAYOUTS[layout]()
    expected = arr.copy()
    engine, seen = commit_and_read(arr)
    snap = engine.state.heavy.x
    for view in (seen, snap):
        assert view is not arr
        assert type(view) is type(arr)
        assert view.dtype == arr.dtype and view.shape == arr.shape
        assert view.strides == arr.strides or arr.size == 0  # strides of no elements are moot
        assert view.flags.writeable is False
        if arr.size:
            assert ptr(view) == ptr(arr)
        np.testing.assert_array_equal(view, expected)
    assert arr.flags.writeable is False  # the caller's original is locked
    if arr.size:
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = expected


def test_the_base_chain_is_locked_too():
    owner = np.arange(100.0)
    part = owner[10:20]
    commit_and_read(part)
    assert owner.flags.writeable is False and part.flags.writeable is False
    with pytest.raises(ValueError, match="read-only"):
        owner[15] = -1.0


def test_a_reader_cannot_turn_writes_back_on():
    engine, seen = commit_and_read(np.arange(5.0))
    for view in (seen, engine.state.heavy.x):
        with pytest.raises(ValueError):
            view.setflags(write=True)
        base = view.base
        while isinstance(base, np.ndarray):  # every array a reader can reach is read-only
            assert base.flags.writeable is False
            with pytest.raises(ValueError):
                base.setflags(write=True)
            base = base.base
        assert isinstance(base, memoryview) and base.readonly
        assert type(base.obj).__name__ == "FrozenBuffer"
        assert memoryview(base.obj).readonly  # the exporter behind it gives no writable buffer


def test_a_process_cannot_write_its_heavy_input():
    engine, _ = commit_and_read(np.arange(5.0))

    @process(inputs=["heavy.x"], outputs=["domain.n"])
    def scribble(ctx):
        ctx.heavy.x[0] = 99.0
        return 1

    @process(inputs=["heavy.x"], outputs=["domain.n"])
    def in_place(ctx):
        np.add(ctx.heavy.x, 1, out=ctx.heavy.x)
        return 1

    @process(inputs=["heavy.x"], outputs=["domain.n"])
    def rebind(ctx):
        ctx.heavy.x = np.zeros(5)
        return 1

    for fn, exc in ((scribble, ValueError), (in_place, ValueError), (rebind, ContextError)):
        with pytest.raises(exc):
            engine.execute(fn)
    np.testing.assert_array_equal(engine.state.heavy.x, np.arange(5.0))
    assert engine.state.domain.n == 0


def test_subclass_keeps_its_type():
    m = np.asmatrix(np.arange(6.0).reshape(2, 3))
    engine, seen = commit_and_read(m)
    assert type(seen) is np.matrix and ptr(seen) == ptr(m)


def test_a_read_view_recommitted_under_heavy_is_not_copied():
    engine, seen = commit_and_read(np.arange(1000.0))

    @process(inputs=["heavy.x"], outputs=["heavy.y"])
    def half(ctx):
        return ctx.heavy.x[::2]

    engine.execute(half)
    assert ptr(engine.state.heavy.y) == ptr(engine.state.heavy.x)
    assert engine.state.heavy.y.strides == (16,)


@pytest.mark.parametrize("make", [
    lambda: np.frombuffer(bytearray(80), dtype="f8"),
    lambda: np.frombuffer(mmap.mmap(-1, 80), dtype="f8"),
    lambda: np.asarray(memoryview(bytearray(80))).view("f8"),
    lambda: np.ctypeslib.as_array((__import__("ctypes").c_double * 10)()),
], ids=["bytearray", "mmap", "memoryview", "ctypes"])
def test_arrays_over_memory_theus_cannot_lock_are_copied(make):
    arr = make()
    engine, seen = commit_and_read(arr)
    assert ptr(seen) != ptr(arr)
    assert arr.flags.writeable is True  # the caller keeps its writable array
    arr[0] = 7.0
    assert seen[0] == 0.0 and engine.state.heavy.x[0] == 0.0


def test_adopt_passes_unlockable_memory_by_reference():
    raw = bytearray(80)
    arr = np.frombuffer(raw, dtype="f8")
    engine, seen = commit_and_read(theus.heavy.adopt(arr))
    assert ptr(seen) == ptr(arr)
    assert arr.flags.writeable is False
    with pytest.raises(BufferError):
        raw.extend(b"x")  # the memory cannot move while the state holds it


def test_read_only_array_over_bytes_is_shared():
    data = bytes(range(64))
    arr = np.frombuffer(data, dtype="u1")
    engine, seen = commit_and_read(arr)
    assert ptr(seen) == ptr(arr)


def test_copy_gives_full_isolation():
    arr = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    engine, seen = commit_and_read(theus.heavy.copy(arr))
    assert ptr(seen) != ptr(arr)
    assert seen.flags.f_contiguous  # the layout survives the copy
    assert arr.flags.writeable is True
    arr[0, 0] = 100.0
    assert seen[0, 0] == 0.0


def test_owner_setflags_is_outside_the_promise_and_copy_closes_it():
    """numpy lets the owner of memory turn writes back on: documented, not prevented."""
    arr = np.zeros(3)
    engine, _ = commit_and_read(arr)
    arr.setflags(write=True)
    arr[0] = 1.0
    assert engine.state.heavy.x[0] == 1.0
    arr2 = np.zeros(3)
    engine2, _ = commit_and_read(theus.heavy.copy(arr2))
    arr2[0] = 1.0
    assert engine2.state.heavy.x[0] == 0.0


# --- other buffers ----------------------------------------------------------------------------


def test_bytes_are_shared_and_read_as_themselves():
    data = b"x" * 1000
    engine, seen = commit_and_read(data)
    assert seen is data and engine.state.heavy.x is data


@pytest.mark.parametrize("make", [
    lambda: bytearray(b"abcdef"),
    lambda: array.array("d", [1.0, 2.0, 3.0]),
    lambda: memoryview(bytearray(b"abcdef")),
    lambda: memoryview(bytearray(24)).cast("d", (3,)),
    lambda: mmap.mmap(-1, 16),
], ids=["bytearray", "array.array", "memoryview", "memoryview-cast", "mmap"])
def test_writable_buffers_are_copied_by_default(make):
    obj = make()
    before = bytes(memoryview(obj))
    engine, seen = commit_and_read(obj)
    assert isinstance(seen, memoryview) and seen.readonly
    assert seen.format == memoryview(obj).format and seen.shape == memoryview(obj).shape
    m = memoryview(obj).cast("B")
    m[0] = (m[0] + 1) % 256
    m.release()
    assert bytes(engine.state.heavy.x) == before
    with pytest.raises(TypeError):
        seen[0] = seen[0]
    if isinstance(obj, bytearray):
        obj.extend(b"more")  # a copy holds no export on the caller's object


def test_adopted_bytearray_cannot_resize_while_held_and_can_after_release():
    buf = bytearray(b"abc")
    engine = new_engine()
    engine.update({"heavy.b": theus.heavy.adopt(buf)})
    with pytest.raises(BufferError):
        buf.extend(b"d")
    engine.update({"heavy.b": b"other"})
    buf.extend(b"d")  # the state let go of it
    assert buf == bytearray(b"abcd")


def test_adopted_mmap_cannot_close_while_held():
    m = mmap.mmap(-1, 4096)
    engine = new_engine()
    engine.update({"heavy.m": theus.heavy.adopt(m)})
    with pytest.raises(BufferError):
        m.close()
    engine.update({"heavy.m": None})
    m.close()


def test_memoryviews_over_arrays_follow_the_array_rule():
    """Run in a fresh interpreter, so a memoryview is the first heavy value numpy meets."""
    import subprocess
    import sys
    code = (
        "import numpy as np, theus\n"
        "e = theus.TheusEngine(context={'heavy': {}})\n"
        "a = np.arange(4.0)\n"
        "e.update({'heavy.m': memoryview(a).toreadonly()})\n"
        "assert not a.flags.writeable\n"
        "b = np.arange(4.0)\n"
        "e.update({'heavy.w': memoryview(b)})\n"
        "assert b.flags.writeable\n"
        "b[0] = 9.0\n"
        "assert e.state.heavy.w[0] == 0.0 and e.state.heavy.m[3] == 3.0\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_read_only_memoryview_over_bytes_is_shared():
    data = bytes(100)
    mv = memoryview(data)[10:20]
    engine, seen = commit_and_read(mv)
    assert np.frombuffer(seen, "u1").__array_interface__["data"][0] == np.frombuffer(mv, "u1").__array_interface__["data"][0]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("value, fragment", [
    (5, "value of type int under heavy"),
    ("text", "value of type str under heavy"),
    ([1, 2], "value of type list under heavy"),
    (object(), "value of type object under heavy"),
    ({1: b"x"}, "value of type dict under heavy"),
    (np.array([object()]), "numpy object array under heavy"),
    (np.ma.masked_array([1, 2], mask=[0, 1]), "mask"),
], ids=["int", "str", "list", "object", "intkey-dict", "object-array", "masked"])
def test_values_without_a_buffer_are_refused_naming_path_and_type(value, fragment):
    engine = new_engine()

    @process(outputs=["heavy.frames.x"])
    def write(ctx):
        return value

    with pytest.raises(ArgumentError, match=r"^heavy\.frames\.x: .*" + fragment):
        engine.execute(write)
    assert engine.state.version == 0


def test_refusal_says_what_to_do():
    with pytest.raises(ArgumentError, match="store it outside the heavy zone, e.g. under domain"):
        new_engine().update({"heavy.x": 5})


def test_released_memoryview_is_refused():
    mv = memoryview(b"abc")
    mv.release()
    with pytest.raises(ArgumentError, match=r"^heavy\.x: cannot store a released memoryview"):
        new_engine().update({"heavy.x": mv})


def test_adopt_outside_heavy_is_refused():
    with pytest.raises(ArgumentError, match=r"^domain\.x: .*heavy\.\* path"):
        new_engine().update({"domain.x": theus.heavy.adopt(np.zeros(3))})


def test_adopt_of_adopt_is_a_type_error():
    with pytest.raises(TypeError):
        theus.heavy.adopt(theus.heavy.adopt(b""))


def test_a_refused_leaf_commits_nothing_and_locks_nothing(quiet_gc):
    owner = np.zeros(8)
    arr = owner[2:6]
    engine = new_engine()
    before = theus.heavy.stats()
    with pytest.raises(ArgumentError):
        engine.update({"heavy.a": arr, "heavy.b": 5})
    assert engine.state.version == 0 and "a" not in engine.state.heavy
    assert arr.flags.writeable and owner.flags.writeable  # the failed commit gave them back
    assert theus.heavy.stats() == before


def test_a_conflicting_commit_gives_the_arrays_back():
    from theus import TransactionError
    from theus.state import State

    s = State({"heavy": {}, "domain": {"n": 0}}, strict=True)
    start = s.version
    s.compare_and_swap(start, {"domain.n": 1})
    arr = np.zeros(4)
    with pytest.raises(TransactionError):
        s.compare_and_swap(start, {"heavy.x": arr})
    assert arr.flags.writeable


def test_an_array_already_committed_stays_locked_when_a_later_commit_fails():
    arr = np.zeros(4)
    engine = new_engine()
    engine.update({"heavy.a": arr})
    with pytest.raises(ArgumentError):
        engine.update({"heavy.b": arr, "heavy.c": 5})
    assert not arr.flags.writeable


def test_huge_broadcast_shape_is_held_without_memory():
    base = np.zeros(3)
    huge = np.broadcast_to(base, (10**7, 3))
    engine, seen = commit_and_read(huge)
    assert seen.shape == (10**7, 3) and seen.strides == (0, 8)
    assert ptr(seen) == ptr(base)


@pytest.mark.parametrize("make", [
    lambda x: np.lib.stride_tricks.sliding_window_view(x, 1000),
    lambda x: np.lib.stride_tricks.as_strided(x, (10**6 - 1000, 1000), (8, 8)),
], ids=["sliding_window_view", "as_strided"])
def test_strided_views_spanning_gigabytes_are_taken_by_reference(make):
    x = np.arange(10**6, dtype=float)
    windows = make(x)  # about 8 GB if it were copied
    engine, seen = commit_and_read(windows)
    assert ptr(seen) == ptr(x) and seen.shape == windows.shape
    assert x.flags.writeable is False


def test_none_is_a_placeholder_and_dicts_are_branches_of_heavy_leaves():
    engine = TheusEngine(context={"heavy": {"frame": None, "set": {"a": np.zeros(2), "b": b"xy"}}})
    assert engine.state.heavy.frame is None
    assert engine.state.heavy.set.a.flags.writeable is False
    with pytest.raises(ArgumentError, match=r"^heavy\.set\.c: "):
        engine.update({"heavy.set": {"c": 1}})
    with pytest.raises(ArgumentError, match=r"^heavy\.bad: "):
        TheusEngine(context={"heavy": {"bad": [1]}})


def test_other_zones_keep_their_copy_rule():
    arr = np.zeros(4)
    engine = new_engine()
    engine.update({"domain.arr": arr})
    assert arr.flags.writeable is True
    assert ptr(engine.state.domain.arr) != ptr(arr)


# --- reading: repr, DLPack, thaw ---------------------------------------------------------------


def test_repr_of_buffer_views_shows_shape_format_and_size_not_data():
    engine = new_engine()
    engine.update({"heavy.b": bytearray(b"secret-bytes")})
    fb = engine.state.heavy.b.obj
    text = repr(fb)
    assert "secret" not in text
    assert "format 'B'" in text and "shape (12,)" in text and "12 bytes" in text


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.1.0",
                    reason="numpy before 2.1 refuses to export read-only arrays through DLPack")
def test_dlpack_shares_memory():
    arr = np.arange(10.0)
    engine, seen = commit_and_read(arr)
    for view in (seen, engine.state.heavy.x):
        d = np.from_dlpack(view)
        assert ptr(d) == ptr(arr)
        assert d.flags.writeable is False


def test_thaw_copy_and_pickle_give_independent_writable_data():
    arr = np.arange(6.0)
    engine, _ = commit_and_read(arr)
    for out in (copy.deepcopy(engine.state.heavy.x), engine.state.to_dict()["heavy"]["x"],
                pickle.loads(pickle.dumps(engine.state.heavy.x))):
        assert ptr(out) != ptr(arr)
        out[0] = 5.0
    assert engine.state.heavy.x[0] == 0.0
    engine.update({"heavy.b": b"bytes", "heavy.ba": bytearray(b"ba")})
    d = engine.state.to_dict()["heavy"]
    assert d["b"] == b"bytes" and d["ba"] == bytearray(b"ba")


def test_heavy_data_moved_to_another_zone_reads_the_same():
    engine, _ = commit_and_read(np.arange(4.0))
    engine.update({"domain.moved": engine.state.heavy.x})
    np.testing.assert_array_equal(engine.state.domain.moved, np.arange(4.0))
    assert engine.state.domain.moved.flags.writeable is False


# --- release ----------------------------------------------------------------------------------


def test_replaced_values_are_released(quiet_gc):
    engine = new_engine()
    before = theus.heavy.stats()
    engine.update({"heavy.x": np.zeros(1000)})
    held = theus.heavy.stats()
    assert held["values"] == before["values"] + 1 and held["bytes"] == before["bytes"] + 8000
    for i in range(20):
        engine.update({"heavy.x": np.full(1000, float(i))})
    assert theus.heavy.stats() == held
    engine.update({"heavy.x": None})
    assert theus.heavy.stats() == before


def test_a_read_view_keeps_its_value_alive(quiet_gc):
    engine = new_engine()
    before = theus.heavy.stats()["values"]
    engine.update({"heavy.b": bytearray(100)})
    view = engine.state.heavy.b
    engine.update({"heavy.b": None})
    assert theus.heavy.stats()["values"] == before + 1
    assert bytes(view) == bytes(100)
    del view
    assert theus.heavy.stats()["values"] == before


# --- torch ------------------------------------------------------------------------------------


def test_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32)
    engine, seen = commit_and_read(t)  # copied by default: the tensor stays writable
    assert isinstance(seen, np.ndarray) and seen.flags.writeable is False
    t[0] = 100.0
    assert seen[0] == 0.0
    a = torch.arange(6, dtype=torch.float32)
    engine, seen = commit_and_read(theus.heavy.adopt(a))
    assert ptr(seen) == a.data_ptr() and seen.flags.writeable is False
    if np.lib.NumpyVersion(np.__version__) >= "2.1.0":  # older numpy cannot export read-only arrays
        assert torch.from_dlpack(seen).data_ptr() == a.data_ptr()
    with pytest.raises(ArgumentError, match=r"^heavy\.b: cannot store this torch tensor"):
        engine.update({"heavy.b": torch.ones(2, dtype=torch.bfloat16)})


# --- per-state books (State.stats) ------------------------------------------------------------


def test_state_stats_count_what_its_versions_hold():
    from theus.state import State

    s = State({"heavy": {"a": np.zeros(10)}, "domain": {}})
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (1, 80)
    s.update({"heavy.a": np.zeros(100)})
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (1, 800)
    snap = s.snapshot()  # pins the version holding the 800-byte array
    s.update({"heavy.a": None, "heavy.b": {"x": b"abc", "y": np.ones(3)}})
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (3, 827)
    snap.release()
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (2, 27)
    with pytest.raises(ArgumentError):
        s.update({"heavy.c": np.zeros(5), "heavy.d": 1})
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (2, 27)
    s.update({"domain.moved": s.snapshot()["heavy.b.y"]})  # domain copies the read view
    assert s.stats()["heavy_values"] == 2


def test_state_stats_with_history_keep_the_versions_kept():
    from theus.state import State

    s = State({"heavy": {}}, history=2)
    for i in range(6):
        s.update({"heavy.x": np.full(1000, float(i))})
    assert (s.stats()["heavy_values"], s.stats()["heavy_bytes"]) == (3, 3 * 8000)  # head + 2 kept
