package py

// #include "py.h"
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/theus-dev/theus/heavy"
	"github.com/theus-dev/theus/kernel"
)

// Node is a kernel node holding Python references: a leaf owns one reference to its value,
// a branch may own one reference to its memo (the dict built from it on first read).
type Node = kernel.Node[*Object]

// ToNode converts a value a writer hands to theus into a kernel node that the writer can no
// longer change: a dict whose keys are all str becomes a branch (recursively), a theus view
// becomes the committed data behind it, any other value a leaf holding a private copy
// (theus_own, which asks the one classifier what each value is). The returned tree owns its
// references; FreeNode drops them when the commit does not happen. A refused value (see
// kind.h) or theus.DELETE inside the value is an ArgumentError naming where it sits; data
// nested deeper than the recursion limit, or cyclic, is a RecursionError.
func ToNode(v *Object) (*Node, error) { return ToNodeAt(v, nil) }

// ToNodeAt is ToNode for the value written at path (a str, or nil for the root), which the
// error messages name. Values at or below the heavy zone ("heavy", "heavy.frame", or the
// "heavy" key of a root dict) follow the heavy zone's rule instead of the commit copy
// (pyproxy/heavy.c): buffers by reference where they can be locked, copies where not, other
// values refused; a dict there is still a branch whose leaves follow that rule.
func ToNodeAt(v, path *Object) (*Node, error) { return toNodeAt(v, path, nil) }

// toNodeAt is ToNodeAt for a value that theus_write_read may already have classified (r).
func toNodeAt(v, path *Object, r *C.theus_prepared) (*Node, error) {
	heavy := false
	if path != nil && r == nil {
		if p, err := Str(path); err == nil {
			heavy = p == HeavyZone || strings.HasPrefix(p, HeavyZone+".")
		} else {
			C.PyErr_Clear() // the caller reports a bad path
		}
	}
	var n *Node
	var err error
	if r != nil {
		n, err = fromPrepared(*r, 0, false, false)
	} else {
		n, err = toNode(v, 0, heavy, path == nil)
	}
	if err == nil {
		return n, nil
	}
	prefix := ""
	if path != nil {
		saved := FetchError()
		prefix, _ = Str(path)
		C.PyErr_Clear()
		RestoreError(saved)
	}
	var ve *valueError
	if errors.As(err, &ve) {
		return nil, ve.raise(prefix)
	}
	if prefix != "" && err == ErrPython && C.PyErr_ExceptionMatches(C.PyExc_RecursionError) != 0 {
		AddNote("while storing " + prefix)
	}
	return nil, err
}

// WriteItem is one entry of a commit's updates dict as WriteIter reads it.
type WriteItem struct {
	Key, Value *Object
	Text       string // the key's UTF-8 text when IsStr
	IsStr      bool
	r          C.theus_prepared
	prepared   bool
}

// WriteIter walks an updates dict {path: value} in batches (theus_write_fill): each entry
// comes with its key's text and its value's classification, and a batch of plain values
// costs one crossing.
type WriteIter struct {
	d          *Object
	b          *C.theus_write_batch
	i          int // the next entry of b
	seen, size int // entries read; the dict's size at the last read
}

// WriteBatch is the C memory a commit's C shim fills with the first entries of its updates
// dict before the Go side runs (capi/module.c).
type WriteBatch = C.theus_write_batch

// WriteItems prepares a walk over an updates dict (Over names it). b holds its first batch
// when the caller filled one (n > 0 or end set), else it is filled on the first Next; nil
// means a batch of the walk's own. Close drops whatever the walk read and did not hand out.
func WriteItems(b *WriteBatch) WriteIter {
	if b == nil {
		b = new(WriteBatch)
	}
	return WriteIter{b: b}
}

// Over names the dict the walk reads: the one the caller's batch was filled from.
func (it *WriteIter) Over(d *Object) { it.d = d }

// Next returns the next entry, ok false at the end, or ErrPython when a str key cannot be
// encoded.
func (it *WriteIter) Next() (w WriteItem, ok bool, err error) {
	if it.i >= int(it.b.n) {
		if it.b.end != 0 || (it.seen > 0 && it.seen >= it.size) {
			return w, false, nil
		}
		C.theus_write_fill(it.d.u(), it.b)
		it.i = 0
		if it.b.n == 0 {
			return w, false, nil
		}
	}
	r := &it.b.item[it.i]
	it.i++
	it.seen, it.size = it.seen+1, int(r.size)
	if r.err != 0 {
		_, err := Str(obj(r.k)) // the fill cleared the encoding error: raise it again
		if err == nil {
			err = fmt.Errorf("a key of the updates could not be encoded")
		}
		return w, false, err
	}
	w = WriteItem{Key: obj(r.k), Value: obj(r.v), IsStr: r.p != nil, r: r.r, prepared: r.prepared != 0}
	if w.IsStr {
		w.Text = unsafe.String((*byte)(unsafe.Pointer(r.p)), int(r.n))
	}
	return w, true, nil
}

// Size is the dict's size at the last read: how many entries the walk expects.
func (it *WriteIter) Size() int { return it.size }

// Close drops the entries the walk read ahead and did not hand out (the copies made for
// their values); the walk ends.
func (it *WriteIter) Close() {
	for ; it.i < int(it.b.n); it.i++ {
		r := &it.b.item[it.i]
		w := WriteItem{r: r.r, prepared: r.prepared != 0}
		w.Drop()
	}
	it.b.end = 1
}

// Drop gives up an entry whose value will not be converted (its path was refused): the copy
// the walk already made, if any, is dropped.
func (w *WriteItem) Drop() {
	if w.prepared && w.r.kind == 0 {
		FreeNode(kernel.Leaf(obj(w.r.leaf)))
		w.prepared = false
	}
}

// Node converts the entry's value as ToNodeAt(Value, Key) does.
func (w *WriteItem) Node() (*Node, error) {
	if w.prepared && w.r.kind == 0 {
		return toNodeAt(w.Value, w.Key, &w.r) // a leaf copied already: no user code runs
	}
	// Converting may run user code (a __hash__) that empties the updates dict, which alone
	// may hold the key that errors name.
	w.Key.IncRef()
	defer w.Key.DecRef()
	if w.prepared {
		return toNodeAt(w.Value, w.Key, &w.r)
	}
	return toNodeAt(w.Value, w.Key, nil)
}

// valueError is a refusal found while converting a value: steps holds the branch names from
// the refused value up (innermost first), loc its place inside a leaf ("[0]['k']").
type valueError struct {
	steps     []string
	loc, text string
	recursion bool
}

func (e *valueError) Error() string { return e.text }

// raise turns the refusal into the Python exception, the location spelled from prefix.
func (e *valueError) raise(prefix string) error {
	parts := make([]string, 0, len(e.steps)+1)
	if prefix != "" {
		parts = append(parts, prefix)
	}
	for i := len(e.steps) - 1; i >= 0; i-- {
		parts = append(parts, e.steps[i])
	}
	if len(parts) > 12 { // a deep location: its first and last steps
		parts = append(append(parts[:6:6], "..."), parts[len(parts)-5:]...)
	}
	where := strings.Join(parts, ".") + e.loc
	if where == "" {
		where = "value"
	}
	if e.recursion {
		raise(C.PyExc_RecursionError, where+": "+e.text)
		return ErrPython
	}
	return Errorf(KindArgument, "%s: %s", where, e.text)
}

// maxDepth bounds how deep branches nest whatever the recursion limit says (as own.c and
// thaw.c bound the C copies).
const maxDepth = 10000

// HeavyZone is the top-level zone whose values follow the heavy rule (THEUS_HEAVY_ZONE, which
// the C side tests too).
var HeavyZone = C.GoString(C.theus_heavy_zone())

// toNode converts v at depth; heavy says v is under the heavy zone, root that v is the whole
// state (so its "heavy" key is the heavy zone).
func toNode(v *Object, depth int, heavy, root bool) (*Node, error) {
	if v == deleteMarker {
		return nil, &valueError{text: "theus.DELETE removes a path: write it as a path's whole new value, not inside a value"}
	}
	var r C.theus_prepared
	if heavy {
		r = C.theus_prepare_heavy_value(v.u())
	} else {
		r = C.theus_prepare_value(v.u())
	}
	return fromPrepared(r, depth, heavy, root)
}

// fromPrepared is toNode for a value already classified by theus_prepare (r).
func fromPrepared(r C.theus_prepared, depth int, heavy, root bool) (*Node, error) {
	switch r.kind {
	case 0:
		return kernel.Leaf(obj(r.leaf)), nil
	case -1:
		return nil, ErrPython
	case -2:
		return nil, refusal(obj(r.leaf))
	}
	if depth >= 64 {
		if limit := int(C.Py_GetRecursionLimit()); depth >= limit || depth >= maxDepth {
			return nil, &valueError{recursion: true, text: fmt.Sprintf(
				"a value nested deeper than %d levels (sys.getrecursionlimit(), at most %d), or cyclic, cannot be stored; flatten it", min(limit, maxDepth), maxDepth)}
		}
	}
	// A snapshot of the items holds every key and value while children convert: converting
	// one may run user code (a __hash__) that changes the dict.
	items := C.PyDict_Items(r.dict)
	if items == nil {
		return nil, ErrPython
	}
	defer C.theus_decref(items)
	n := int(C.theus_list_size(items))
	if n == 0 {
		return kernel.BranchOf[*Object](nil, nil), nil
	}
	texts := make([]C.theus_keytext, n)
	keys := C.theus_key_texts(obj(items).u(), &texts[0])
	if keys == 0 { // a non-str (or unencodable) key: the dict is one leaf
		var c C.theus_owned
		if heavy {
			c = C.theus_own_heavy_value(obj(r.dict).u())
		} else {
			c = C.theus_own_value(obj(r.dict).u())
		}
		switch c.status {
		case -1:
			return nil, ErrPython
		case -2:
			return nil, refusal(obj(c.out))
		}
		return kernel.Leaf(obj(c.out)), nil
	}
	names := make([]string, n)
	heavies := make([]C.char, n)
	for i, t := range texts {
		names[i] = C.GoStringN(t.p, C.int(t.n))
		if heavy || (root && names[i] == HeavyZone) {
			heavies[i] = 1
		}
	}
	// The values are classified in batches (theus_prepare_from); a value the batch leaves
	// (theus.DELETE) takes the general way. On a failure, the batch's unused leaves are dropped.
	preps := make([]C.theus_prepared, n)
	kids := make([]*Node, n)
	stop := 0
	for i, name := range names {
		if i == stop {
			stop = int(C.theus_prepare_from(obj(items).u(), C.Py_ssize_t(i), &heavies[0], &preps[0]))
		}
		var c *Node
		var err error
		if i < stop {
			c, err = fromPrepared(preps[i], depth+1, heavies[i] != 0, false)
		} else {
			c, err = toNode(obj(C.theus_pair_at(obj(items).u(), C.Py_ssize_t(i)).v), depth+1, heavies[i] != 0, false)
			stop = i + 1
		}
		if err != nil {
			for _, done := range kids[:i] {
				FreeNode(done)
			}
			for _, p := range preps[i+1 : max(stop, i+1)] {
				if p.kind == 0 {
					FreeNode(kernel.Leaf(obj(p.leaf)))
				}
			}
			var ve *valueError
			if errors.As(err, &ve) {
				ve.steps = append(ve.steps, name)
			}
			return nil, err
		}
		kids[i] = c
	}
	if keys == 1 { // str subclasses may repeat a text: the first keeps it, as BranchOf does
		seen := make(map[string]bool, n)
		for i, name := range names {
			if seen[name] {
				FreeNode(kids[i])
				kids[i] = nil
			}
			seen[name] = true
		}
	}
	return kernel.BranchOf(names, kids), nil
}

// refusal reads theus_own's (location, reason) tuple and drops it.
func refusal(t *Object) error {
	defer t.DecRef()
	items := TupleItems(t)
	loc, _ := Str(items[0])
	text, _ := Str(items[1])
	return &valueError{loc: loc, text: text}
}

// HeavyHeld counts the heavy values (pyproxy/heavy.c's HeavyValue) among the leaves of n and
// the bytes they span. It reads the objects' types and sizes only (no call into C).
func HeavyHeld(n *Node) heavy.Totals {
	var t heavy.Totals
	if n == nil {
		return t
	}
	if n.IsLeaf() {
		if b, ok := HeavyBytes(n.Value()); ok {
			t = heavy.Totals{Values: 1, Bytes: b}
		}
		return t
	}
	n.Range(func(_ string, c *Node) bool {
		t = t.Add(HeavyHeld(c))
		return true
	})
	return t
}

// HeavyBytes reports whether v is a heavy value and, if so, the bytes it spans.
func HeavyBytes(v *Object) (int64, bool) {
	if v == nil || C.theus_heavy_value_type == nil || v.c().ob_type != C.theus_heavy_value_type {
		return 0, false
	}
	return int64((*C.theus_heavy_head)(unsafe.Pointer(v)).nbytes), true
}

// FreeNode drops the references of a tree that was never committed; heavy leaves give the
// caller's arrays back their writeable flag (the commit did not take them).
func FreeNode(n *Node) {
	if n == nil {
		return
	}
	if n.IsLeaf() {
		if v := n.Value(); v != nil && C.PyGILState_Check() == 1 {
			C.theus_abandon_u(v.u())
		}
		Release(n.Value())
		return
	}
	if m, ok := n.Memo(); ok {
		Release(m)
	}
	n.Range(func(_ string, c *Node) bool {
		FreeNode(c)
		return true
	})
}

// Materialize returns a new reference to the Python value of a committed node: the leaf's
// value, or for a branch a dict of its children's values in insertion order, built once and
// cached on the (immutable) node.
func Materialize(n *Node) (*Object, error) {
	if n.IsLeaf() {
		return n.Value().IncRef(), nil
	}
	if m, ok := n.MemoRead(); ok {
		return m.IncRef(), nil
	}
	// Gather the names into one buffer and the values into one array (leaves borrowed, the
	// caller's snapshot keeps them alive; sub-branches as new references), then build the
	// dict in a single C call.
	count := n.Len()
	names := make([]byte, 0, count*8)
	offs := make([]C.Py_ssize_t, 1, count+1)
	vals := make([]uintptr, 0, count)
	var built []*Object
	defer func() {
		for _, o := range built {
			o.DecRef()
		}
	}()
	var err error
	n.Range(func(name string, c *Node) bool {
		v := c.Value()
		if !c.IsLeaf() {
			if v, err = Materialize(c); err != nil {
				return false
			}
			built = append(built, v)
		}
		names = append(names, name...)
		offs = append(offs, C.Py_ssize_t(len(names)))
		vals = append(vals, uintptr(unsafe.Pointer(v)))
		return true
	})
	if err != nil {
		return nil, err
	}
	var namesPtr *C.char
	var valsPtr *C.uintptr_t
	if len(vals) > 0 {
		valsPtr = (*C.uintptr_t)(unsafe.Pointer(&vals[0]))
		if len(names) > 0 {
			namesPtr = (*C.char)(unsafe.Pointer(&names[0]))
		}
	}
	d := obj(C.theus_dict_build(namesPtr, &offs[0], valsPtr, C.Py_ssize_t(len(vals))))
	if d == nil {
		return nil, ErrPython
	}
	stored, ok := n.SetMemo(d)
	if !ok { // another reader built it first
		d.DecRef()
	}
	n.MemoRead() // this read counts (see CarryMemo)
	return stored.IncRef(), nil
}

// CarryMemo is the kernel's Carry callback (kernel.Options.Carry): the dict built for a
// branch that a commit path-copied becomes the dict of the copy, so the first whole-branch read
// after a change costs nothing, where rebuilding a 100,000-key dict from the tree costs far more
// than copying it. Only a dict read since it was stored (or carried) is carried, so commits to
// a branch nobody reads whole stop paying for it after one commit. Each changed child is set to
// its value (a leaf) or its dict (a branch: the kernel carried a path-copied child's dict
// first; a branch written by this commit is built now), or deleted. The dict is changed in
// place when no view holds it (its reference count is 1); while a view still shows it, a copy
// is changed instead. Needs the GIL (a commit of many paths runs without it); otherwise, or
// when a change fails, it returns false and the kernel releases the dict as before, and the
// next read builds the copy's dict from the tree.
func CarryMemo(memo *Object, copy *Node, changed []string, read bool) bool {
	if !read || copy.IsLeaf() || C.PyGILState_Check() != 1 {
		return false // a dict nobody read since the last change is not worth carrying
	}
	if _, built := copy.Memo(); built || copy.MemoReleased() {
		return false // read already, or released (its children may be freed)
	}
	var small [4]uintptr
	var soffs [5]C.Py_ssize_t
	vals := small[:0]
	offs := append(soffs[:0], 0)
	size := 0
	for _, name := range changed {
		size += len(name)
	}
	names := make([]byte, 0, size)
	var built []*Object
	defer func() {
		for _, o := range built {
			o.DecRef()
		}
	}()
	for _, name := range changed {
		var v uintptr
		if c, ok := copy.Child(name); ok {
			switch m, ok := c.Memo(); {
			case c.MemoReleased():
				return false
			case c.IsLeaf():
				v = uintptr(unsafe.Pointer(c.Value()))
			case ok:
				v = uintptr(unsafe.Pointer(m))
			case c.Born() == copy.Version(): // written by this commit: its dict costs what it holds
				o, err := Materialize(c)
				if err != nil {
					C.PyErr_Clear()
					return false
				}
				built = append(built, o)
				v = uintptr(unsafe.Pointer(o))
			default:
				return false // a path-copied child whose dict could not be carried
			}
		}
		names = append(names, name...)
		offs = append(offs, C.Py_ssize_t(len(names)))
		vals = append(vals, v)
	}
	var namesPtr *C.char
	if len(names) > 0 {
		namesPtr = (*C.char)(unsafe.Pointer(&names[0]))
	}
	var valsPtr *C.uintptr_t
	if len(vals) > 0 {
		valsPtr = (*C.uintptr_t)(unsafe.Pointer(&vals[0]))
	}
	d := obj(C.theus_memo_carry(memo.u(), 1, namesPtr, &offs[0], valsPtr, C.Py_ssize_t(len(vals))))
	if d == nil {
		return false
	}
	if _, stored := copy.SetMemo(d); !stored {
		d.DecRef()
		return false
	}
	memo.DecRef() // the copy's dict holds its own reference (d is memo when changed in place)
	// The changed sub-branches' dicts sit in a dict that was read: they count as read too.
	for _, name := range changed {
		if c, ok := copy.Child(name); ok && !c.IsLeaf() {
			c.MemoRead()
		}
	}
	return true
}

// ReleaseValue is the kernel's release callback: it drops a committed value's reference as
// soon as no live version can reach it.
func ReleaseValue(v *Object) { Release(v) }

// SetUnwrap installs the C function that sees through read-only views (see theus_view_unwrap).
func SetUnwrap(fn unsafe.Pointer) {
	C.theus_view_unwrap = (*[0]byte)(fn)
}

// SetHeavy installs the heavy zone's ownership rule (pyproxy's theus_own_heavy), the function
// that undoes its locks for a leaf never committed, and the type of the values it stores.
func SetHeavy(own, abandon, valueType unsafe.Pointer) {
	C.theus_install_heavy(own, abandon, valueType)
}

// SetKind installs the one value classifier and its refusal text (see kind.h), which every
// conversion of a value asks: the commit copy, reads, thaws and Flux conditions.
func SetKind(kind, refusal unsafe.Pointer) {
	C.theus_install_kind(kind, refusal)
}

var deleteMarker *Object

// InitDelete takes theus.markers.DELETE, the value that removes a path when written.
func InitDelete() bool {
	name := C.CString("theus.markers")
	defer C.free(unsafe.Pointer(name))
	mod := C.PyImport_ImportModule(name)
	if mod == nil {
		return false
	}
	defer C.theus_decref(mod)
	attr := C.CString("DELETE")
	defer C.free(unsafe.Pointer(attr))
	m := C.PyObject_GetAttrString(mod, attr)
	if m == nil {
		return false
	}
	deleteMarker = obj(m) // kept for the life of the process
	C.theus_delete_marker = m
	return true
}

// Delete is the DELETE marker (borrowed).
func Delete() *Object { return deleteMarker }
