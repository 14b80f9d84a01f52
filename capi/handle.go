package main

import "C"

import (
	"sync"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/pyproxy"
)

// Core objects reach Python only inside a theus._core.Handle (pyproxy/handle.c), their one
// owner: the Handle releases the object once, in close() or when it is freed, through
// go_handle_release. Entry points take Handles back (see handle in args.go).

// newHandle returns a new Handle owning v. (A snapshot's Handle, which keeps its state's
// Handle alive, is made in C by module.c's snapshot_result.)
func newHandle(v any) *py.Object {
	kind := 0
	switch v.(type) {
	case *state:
		kind = pyproxy.HandleState
	case *plan:
		kind = pyproxy.HandlePlan
	case *flux.Workflow:
		kind = pyproxy.HandleWorkflow
	case *flux.Trace:
		kind = pyproxy.HandleTrace
	}
	h := handles.add(v)
	o := py.FromPtr(pyproxy.NewHandle(h, kind))
	if o == nil {
		releaseValue(handles.remove(h))
	}
	return o
}

// handleTable maps the numbers Handles carry to the core objects they own. A number is a
// slot's index plus one in its low 32 bits and the slot's generation above them: a slot is
// reused once its object is released, with the next generation, so a stale number never
// names the later object. Lookups cost a lock and an index, not a hash-map read.
type handleTable struct {
	mu    sync.Mutex
	slots []handleSlot
	free  []uint32 // indexes of released slots
}

type handleSlot struct {
	v   any // nil once released
	gen uint32
}

var handles handleTable

// add stores v and returns its number (never 0).
func (t *handleTable) add(v any) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		i = uint32(len(t.slots))
		t.slots = append(t.slots, handleSlot{})
	}
	s := &t.slots[i]
	s.gen++
	s.v = v
	return uintptr(s.gen)<<32 | uintptr(i+1)
}

// slot returns the live slot that number h names, or nil. t.mu is held.
func (t *handleTable) slot(h uintptr) *handleSlot {
	i := uint32(h) - 1
	if uint32(h) == 0 || int(i) >= len(t.slots) {
		return nil
	}
	s := &t.slots[i]
	if s.v == nil || uintptr(s.gen) != h>>32 {
		return nil
	}
	return s
}

// get returns the object number h names, nil when it names none (released already).
func (t *handleTable) get(h uintptr) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.slot(h); s != nil {
		return s.v
	}
	return nil
}

// remove forgets number h and returns its object, nil when it named none.
func (t *handleTable) remove(h uintptr) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slot(h)
	if s == nil {
		return nil
	}
	v := s.v
	s.v = nil
	t.free = append(t.free, uint32(h)-1)
	return v
}

// releaseValue frees what a handle owned.
func releaseValue(v any) {
	switch x := v.(type) {
	case *state:
		x.Close()
	case *snapshot:
		x.Release()
	case *plan:
		x.keys.DecRef()
	}
}

//export go_handle_release
func go_handle_release(h uintptr) {
	defer func() { _ = recover() }() // a Handle releases once; nothing may unwind into C
	py.Enter()
	if v := handles.remove(h); v != nil {
		releaseValue(v)
	}
}
