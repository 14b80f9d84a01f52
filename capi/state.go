package main

import "C"

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/heavy"
	"github.com/theus-dev/theus/kernel"
	"github.com/theus-dev/theus/pyproxy"
)

type (
	snapshot = kernel.Snapshot[*py.Object]
	// state is a kernel state and the books of the heavy values it holds.
	state struct {
		*kernel.State[*py.Object]
		heavy *heavy.Ledger
	}
)

// stateCall is newCall for the entry points whose first argument is a state handle.
func stateCall(name string, args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, want int) ([]*py.Object, call, *state, error) {
	a, c, err := newCall(name, args, n, ints, ok, want)
	if err != nil {
		return nil, c, nil, err
	}
	st, err := handle[*state](c, 0)
	return a, c, st, err
}

//export go_state_new
func go_state_new(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, c, err := newCall("state_new", args, n, ints, ok, 4)
	if err != nil {
		return fail(err)
	}
	if !py.IsDict(a[0]) {
		return fail(argErrorf("the initial context must be a dict of zones such as {\"domain\": {...}}, got %s", py.TypeName(a[0])))
	}
	strict, err := py.Truth(a[1])
	if err != nil {
		return fail(err)
	}
	keep, isInt := c.int64(2)
	if !isInt || keep < 0 {
		return fail(argErrorf("history: expected an int >= 0 (versions kept whole), got %s", py.TypeName(a[2])))
	}
	size, isInt := c.int64(3)
	if !isInt || size < 0 {
		return fail(argErrorf("history_size: expected an int >= 0, got %s", py.TypeName(a[3])))
	}
	heapBefore := heapBytes()
	root, err := py.ToNode(a[0])
	if err != nil {
		return fail(err)
	}
	defer returnGarbage(heapBefore)
	if root.IsLeaf() { // a dict with a non-str key
		py.FreeNode(root)
		return fail(argErrorf("the initial context's keys must be str zone names such as \"domain\""))
	}
	books := &heavy.Ledger{}
	release := func(v *py.Object) {
		dropBooks(books, v)
		py.ReleaseValue(v)
	}
	held := py.HeavyHeld(root)
	st, err := kernel.New(root, kernel.Options[*py.Object]{
		Release: release, Carry: py.CarryMemo, Strict: strict, KeepVersions: int(keep), HistorySize: int(size),
	})
	if err != nil {
		py.FreeNode(root)
		return fail(err)
	}
	books.Hold(held)
	return result(newHandle(&state{State: st, heavy: books}))
}

// bigBuild is the heap growth from which building a State returns its garbage to the OS.
const bigBuild = 64 << 20

// heapBytes reads the bytes of live and not yet swept heap objects (cheap: no stop).
func heapBytes() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// returnGarbage runs a collection and gives the freed memory back to the OS after a build that
// grew the heap by bigBuild or more since before: converting a large initial state leaves
// about as much garbage as it keeps, which would otherwise stay in the process's RSS until the
// heap grows again. A build that size takes far longer than the collection.
func returnGarbage(before uint64) {
	if heapBytes() >= before+bigBuild {
		debug.FreeOSMemory()
	}
}

//export go_state_version
func go_state_version(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, _, st, err := stateCall("state_version", args, n, ints, ok, 1)
	if err != nil {
		return fail(err)
	}
	return result(py.NewUint(st.Version()))
}

// lookupValue resolves one path in a snapshot to a read-only Python value.
// With allowRoot, a None path stands for the root.
func lookupValue(snap *snapshot, pathArg *py.Object, allowRoot bool) unsafe.Pointer {
	node := snap.Root()
	if node == nil { // the state was closed under this snapshot
		return fail(&kernel.ClosedError{})
	}
	if !allowRoot || !py.IsNone(pathArg) {
		p, err := path(pathArg)
		if err != nil {
			return fail(err)
		}
		if node, err = snap.Lookup(p); err != nil {
			return fail(err)
		}
	}
	v, err := py.Materialize(node)
	if err != nil {
		return fail(err)
	}
	defer v.DecRef()
	return result(freeze(v))
}

//export go_state_get
func go_state_get(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, _, st, err := stateCall("state_get", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	snap := st.Snapshot()
	defer snap.Release()
	return lookupValue(snap, a[1], false)
}

// dropBooks takes a released heavy value off the books of the state that held it.
func dropBooks(books *heavy.Ledger, v *py.Object) {
	if b, ok := py.HeavyBytes(v); ok {
		books.Drop(heavy.Totals{Values: 1, Bytes: b})
	}
}

// go_state_commit returns the new version as an int for the C shim to box (one crossing
// fewer per commit), or -1 and the result object (NULL with an exception set on failure).
// batch holds the first entries of the updates dict, read by the shim (py.WriteBatch), and
// room has space for roomSize values the commit released: the shim drops the first `dropped`
// of them after the call, so a commit costs no crossing per released value either.
//
//export go_state_commit
func go_state_commit(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, batch, room unsafe.Pointer, roomSize int) (res unsafe.Pointer, version int64, dropped int) {
	version = -1
	defer py.Recover(&res)
	py.Enter()
	sink := unsafe.Slice((**py.Object)(room), roomSize)[:0]
	v, released, err := stateCommit(args, n, ints, ok, (*py.WriteBatch)(batch), sink)
	if err != nil {
		return fail(err), -1, 0
	}
	if len(released) <= roomSize {
		return nil, int64(v), len(released) // appended in place, into room
	}
	py.DecRefAll(released[roomSize:]) // room overflowed: the first roomSize are in room still
	return nil, int64(v), roomSize
}

// stateCommit is the commit entry point: it converts the arguments, commits and returns the
// new version and the values it released (their books already settled), which the caller
// drops; on failure nothing was committed and the caller keeps nothing. batch: the first
// entries of the updates dict, or nil; the released values are appended to sink.
func stateCommit(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, batch *py.WriteBatch, sink []*py.Object) (kernel.Version, []*py.Object, error) {
	it := py.WriteItems(batch)
	defer it.Close() // entries read ahead and not committed (an argument was refused): dropped
	want := 6
	if n == 7 { // the optional appends argument
		want = 7
	}
	a, c, st, err := stateCall("state_commit", args, n, ints, ok, want)
	if err != nil {
		return 0, nil, err
	}
	start, err := c.version("expected_version", 1)
	if err != nil {
		return 0, nil, err
	}
	req := kernel.Commit[*py.Object]{Start: start}
	if req.Strict, err = py.Truth(a[5]); err != nil {
		return 0, nil, err
	}
	if !py.IsNone(a[4]) {
		if req.Author, err = py.Str(a[4]); err != nil {
			return 0, nil, argErrorf("author: expected str or None, got %s", py.TypeName(a[4]))
		}
	}
	switch {
	case py.IsNone(a[3]):
	case py.IsTuple(a[3]):
		if req.Reads, err = pathList(a[3]); err != nil {
			return 0, nil, err
		}
	default: // a process's plan
		pl, err := handle[*plan](c, 3)
		if err != nil {
			return 0, nil, argErrorf("reads: expected a tuple of paths, got %s", py.TypeName(a[3]))
		}
		req.Reads = pl.paths
		if py.IsNone(a[4]) {
			req.Author = pl.name
		}
	}
	if req.Writes, err = writes(a[2], &it); err != nil {
		return 0, nil, err
	}
	if n == 7 && !py.IsNone(a[6]) {
		if req.AppendUnder, req.Appends, err = appends(a[6]); err != nil {
			for _, w := range req.Writes {
				py.FreeNode(w.Node)
			}
			return 0, nil, err
		}
	}
	var held heavy.Totals // held before the commit: a concurrent release may drop them at once
	for _, w := range req.Writes {
		held = held.Add(py.HeavyHeld(w.Node))
	}
	for _, nd := range req.Appends {
		held = held.Add(py.HeavyHeld(nd))
	}
	st.heavy.Hold(held)
	var v kernel.Version
	if len(req.Writes)+len(req.Reads)+len(req.Appends) >= unblockPaths {
		py.Unblock(func() { v, sink, err = st.CommitCollect(req, sink) })
	} else { // releasing and re-taking the GIL would cost more than the commit
		v, sink, err = st.CommitCollect(req, sink)
	}
	if err != nil {
		st.heavy.Drop(held)
		for _, w := range req.Writes {
			py.FreeNode(w.Node)
		}
		for _, nd := range req.Appends {
			py.FreeNode(nd)
		}
		return 0, nil, err
	}
	for _, r := range sink {
		dropBooks(st.heavy, r)
	}
	return v, sink, nil
}

// appends converts the appends argument (branch path, tuple of values) into the branch and
// nodes owning private copies, which the commit names itself (kernel.Commit.Appends).
func appends(arg *py.Object) (kernel.Path, []*py.Node, error) {
	items := []*py.Object(nil)
	if py.IsTuple(arg) {
		items = py.TupleItems(arg)
	}
	if len(items) != 2 || !py.IsTuple(items[1]) {
		return nil, nil, argErrorf("appends: expected None or (branch path, tuple of values), got %s", py.TypeName(arg))
	}
	under, err := path(items[0])
	if err != nil {
		return nil, nil, err
	}
	values := py.TupleItems(items[1])
	out := make([]*py.Node, 0, len(values))
	for i, v := range values {
		name := py.NewStr(fmt.Sprintf("%s (appended value %d)", under, i))
		if name == nil {
			err = py.ErrPython
		} else {
			var node *py.Node
			node, err = py.ToNodeAt(v, name)
			name.DecRef()
			if err == nil {
				out = append(out, node)
				continue
			}
		}
		for _, nd := range out {
			py.FreeNode(nd)
		}
		return nil, nil, err
	}
	return under, out, nil
}

// unblockPaths is the write-set size from which a commit releases the GIL while Go works: a
// commit costs about 1 µs plus 0.1–0.3 µs per path, the GIL round trip about 0.15 µs.
const unblockPaths = 32

// writes converts an updates dict {path: value}, walked by it, into kernel writes owning
// private copies.
func writes(updates *py.Object, it *py.WriteIter) ([]kernel.Write[*py.Object], error) {
	if !py.IsDict(updates) {
		return nil, argErrorf("updates: expected a dict {\"zone.path\": value}, got %s", py.TypeName(updates))
	}
	var out []kernel.Write[*py.Object]
	fail := func(err error) ([]kernel.Write[*py.Object], error) {
		for _, w := range out {
			py.FreeNode(w.Node)
		}
		return nil, err
	}
	for it.Over(updates); ; {
		w, ok, err := it.Next()
		if err != nil {
			return fail(err)
		}
		if !ok {
			return out, nil
		}
		var p kernel.Path
		if w.IsStr {
			p, err = pathOfText(w.Text)
		} else {
			p, err = path(w.Key)
		}
		if err != nil {
			w.Drop()
			return fail(err)
		}
		if w.Value == py.Delete() {
			if out == nil { // sized once: the dict holds it.Size() entries
				out = make([]kernel.Write[*py.Object], 0, it.Size())
			}
			out = append(out, kernel.Write[*py.Object]{Path: p})
			continue
		}
		node, err := w.Node()
		if err != nil {
			return fail(err)
		}
		if out == nil { // sized once: the dict holds it.Size() entries
			out = make([]kernel.Write[*py.Object], 0, it.Size())
		}
		out = append(out, kernel.Write[*py.Object]{Path: p, Node: node})
	}
}

// go_state_snapshot and go_state_at pin a version and return its core handle number and the
// version; the C side (module.c) makes the Handle, which keeps the state's Handle alive so a
// snapshot stays readable after the last other reference to its state is gone. h is 0 with
// an exception set on failure (res is only the panic guard's slot).
//
//export go_state_snapshot
func go_state_snapshot(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer, h uintptr, version int64) {
	defer py.Recover(&res)
	py.Enter()
	_, _, st, err := stateCall("state_snapshot", args, n, ints, ok, 1)
	if err != nil {
		return fail(err), 0, 0
	}
	return pinned(st.Snapshot())
}

//export go_state_at
func go_state_at(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer, h uintptr, version int64) {
	defer py.Recover(&res)
	py.Enter()
	_, c, st, err := stateCall("state_at", args, n, ints, ok, 2)
	if err != nil {
		return fail(err), 0, 0
	}
	v, err := c.version("version", 1)
	if err != nil {
		return fail(err), 0, 0
	}
	snap, err := st.At(v)
	if err != nil {
		return fail(err), 0, 0
	}
	return pinned(snap)
}

// pinned is the result of a snapshot entry point: snap's core handle number and its version.
func pinned(snap *snapshot) (unsafe.Pointer, uintptr, int64) {
	return nil, handles.add(snap), int64(snap.Version())
}

//export go_state_history
func go_state_history(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, _, st, err := stateCall("state_history", args, n, ints, ok, 1)
	if err != nil {
		return fail(err)
	}
	recs := st.History()
	items := make([]*py.Object, len(recs))
	for i, r := range recs {
		items[i] = py.NewTuple(py.NewUint(r.Version), py.NewStr(r.Author), py.NewStrTuple(r.Paths),
			py.NewFloat(float64(r.Time.UnixNano())/1e9))
	}
	return result(py.NewList(items))
}

//export go_state_diff
func go_state_diff(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, c, st, err := stateCall("state_diff", args, n, ints, ok, 3)
	if err != nil {
		return fail(err)
	}
	v1, err := c.version("v1", 1)
	if err != nil {
		return fail(err)
	}
	v2, err := c.version("v2", 2)
	if err != nil {
		return fail(err)
	}
	s1, err := st.At(v1)
	if err != nil {
		return fail(err)
	}
	defer s1.Release()
	s2, err := st.At(v2)
	if err != nil {
		return fail(err)
	}
	defer s2.Release()
	changes := kernel.Diff(s1.Root(), s2.Root())
	items := make([]*py.Object, 0, len(changes))
	for _, c := range changes {
		old, err := frozenNode(c.Old)
		if err != nil {
			return fail(err)
		}
		nw, err := frozenNode(c.New)
		if err != nil {
			old.DecRef()
			return fail(err)
		}
		items = append(items, py.NewTuple(py.NewStr(c.Kind.String()), py.NewStr(c.Path), old, nw))
	}
	return result(py.NewList(items))
}

// frozenNode is the read-only Python value of a node, None for nil.
func frozenNode(nd *py.Node) (*py.Object, error) {
	if nd == nil {
		return py.None(), nil
	}
	v, err := py.Materialize(nd)
	if err != nil {
		return nil, err
	}
	defer v.DecRef()
	f := freeze(v)
	if f == nil {
		return nil, py.ErrPython
	}
	return f, nil
}

//export go_snapshot_get
func go_snapshot_get(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, c, err := newCall("snapshot_get", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	snap, err := handle[*snapshot](c, 0)
	if err != nil {
		return fail(err)
	}
	return lookupValue(snap, a[1], true)
}

//export go_state_stats
func go_state_stats(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	_, _, st, err := stateCall("state_stats", args, n, ints, ok, 1)
	if err != nil {
		return fail(err)
	}
	return result(statsDict(st.Stats(), st.heavy.Totals()))
}

//export go_runtime_stats
func go_runtime_stats(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	d := py.NewDict()
	v := py.NewInt(int64(py.Pending()))
	_ = py.SetItemStr(d, "pending_decrefs", v)
	v.DecRef()
	return result(d)
}

// go_state_begin starts a process attempt: it pins the newest version and reads the plan's
// paths. For the usual plan the C shim builds the (version, context) pair itself, after
// the call (capi/module.c): room receives the values of the plan's keys (0 for an absent
// path), keys and nvals say which, and drop the values the shim drops once the context holds
// its own references (branch dicts built for the call, values the unpin released), `dropped`
// of them. With nvals -1, res is the result: the pair, built here for a plan or a release
// too large for the shim's room, or NULL with an exception set.
//
//export go_state_begin
func go_state_begin(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, room unsafe.Pointer, roomSize int,
	drop unsafe.Pointer, dropSize int) (res, keys unsafe.Pointer, nvals int, version uint64, dropped int) {
	nvals = -1
	defer py.Recover(&res)
	py.Enter()
	a, c, st, err := stateCall("state_begin", args, n, ints, ok, 3)
	if err != nil {
		return fail(err), nil, -1, 0, 0
	}
	pl, err := handle[*plan](c, 1)
	if err != nil {
		return fail(err), nil, -1, 0, 0
	}
	vals := unsafe.Slice((*uintptr)(room), roomSize)[:0]
	if len(pl.paths) > roomSize {
		vals = make([]uintptr, 0, len(pl.paths))
	}
	sink := unsafe.Slice((**py.Object)(drop), dropSize)[:0] // branch values built for this call, then the unpin's
	snap := st.Snapshot()
	for _, p := range pl.paths {
		node, err := snap.Lookup(p)
		switch {
		case err != nil: // absent: the context reports it on read
			vals = append(vals, 0)
		case node.IsLeaf():
			vals = append(vals, uintptr(node.Value().Ptr()))
		default:
			v, err := py.Materialize(node)
			if err != nil {
				py.DecRefAll(snap.ReleaseCollect(sink))
				return fail(err), nil, -1, 0, 0
			}
			sink = append(sink, v)
			vals = append(vals, uintptr(v.Ptr()))
		}
	}
	version = snap.Version()
	sink = snap.ReleaseCollect(sink) // the values read stay alive until the sink is dropped
	if len(vals) > roomSize || len(sink) > dropSize {
		res = result(py.FromPtr(pyproxy.Begin(pl.keys.Ptr(), vals, version, a[2].Ptr())))
		py.DecRefAll(sink)
		return res, nil, -1, 0, 0
	}
	return nil, pl.keys.Ptr(), len(vals), version, len(sink)
}

// pathList parses a tuple of path strings.
func pathList(o *py.Object) ([]kernel.Path, error) {
	if !py.IsTuple(o) {
		return nil, argErrorf("paths: expected a tuple of str, got %s", py.TypeName(o))
	}
	items := py.TupleItems(o)
	out := make([]kernel.Path, len(items))
	for i, po := range items {
		p, err := path(po)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// statsDict is the Python view of kernel.Stats and of the heavy values held.
func statsDict(s kernel.Stats, h heavy.Totals) *py.Object {
	d := py.NewDict()
	for _, kv := range []struct {
		k string
		v int64
	}{
		{"version", int64(s.Version)}, {"live_snapshots", int64(s.Snapshots)},
		{"pinned_versions", int64(s.PinnedVersions)}, {"retained_versions", int64(s.RetainedVersions)},
		{"pending_release", int64(s.Pending)}, {"released", int64(s.Released)}, {"history", int64(s.History)},
		{"heavy_values", h.Values}, {"heavy_bytes", h.Bytes},
	} {
		v := py.NewInt(kv.v)
		_ = py.SetItemStr(d, kv.k, v)
		v.DecRef()
	}
	return d
}
