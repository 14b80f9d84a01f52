package main

// #include "py/py.h"
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unique"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/kernel"
)

// argError is raised as theus.ArgumentError.
type argError struct{ msg string }

func (e *argError) Error() string        { return e.msg }
func (e *argError) PyKind() py.ErrorKind { return py.KindArgument }

func argErrorf(format string, a ...any) error { return &argError{fmt.Sprintf(format, a...)} }

// call is one entry-point invocation: its FASTCALL arguments and the leading int arguments
// the C shim already read (handles, versions), so those need no crossing back into C.
type call struct {
	args []*py.Object
	ints *[C.THEUS_INT_ARGS]C.longlong
	ok   C.uint
}

// newCall checks the argument count of entry point name.
// The call is a value, so that an entry point allocates nothing for it.
func newCall(name string, args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, want int) ([]*py.Object, call, error) {
	if n != want {
		return nil, call{}, argErrorf("%s: expected %d arguments, got %d", name, want, n)
	}
	c := call{args: py.Args(args, n), ints: (*[C.THEUS_INT_ARGS]C.longlong)(unsafe.Pointer(ints)), ok: ok}
	return c.args, c, nil
}

// int64 is argument i as an int: pre-read when possible, else converted now.
func (c call) int64(i int) (int64, bool) {
	if i < C.THEUS_INT_ARGS && c.ok&(1<<i) != 0 {
		return int64(c.ints[i]), true
	}
	return py.Int64(c.args[i])
}

// version parses argument i as a version: an int >= 0.
func (c call) version(what string, i int) (kernel.Version, error) {
	v, ok := c.int64(i)
	if !ok {
		if o := c.args[i]; py.IsInt(o) {
			return 0, argErrorf("%s: %s is too large to be a version", what, "value")
		}
		return 0, argErrorf("%s: expected an int version, got %s", what, py.TypeName(c.args[i]))
	}
	if v < 0 {
		return 0, argErrorf("%s: a version is >= 0, got %d", what, v)
	}
	return kernel.Version(v), nil
}

// fail raises err and returns the NULL result of an entry point.
func fail(err error) unsafe.Pointer {
	py.SetError(err)
	return nil
}

// result hands a new reference to Python, or raises when building it failed.
func result(o *py.Object) unsafe.Pointer {
	if o == nil {
		return nil // the constructor set a Python exception
	}
	return o.Ptr()
}

// pathCache keeps parsed paths by their text: processes and callers write the same few paths
// over and over, and a parsed Path is never modified.
var pathCache struct {
	sync.Mutex
	m map[string]kernel.Path
}

// pathCacheMax bounds the cache; past it the cache starts over.
const pathCacheMax = 4096

// path parses a dotted state path.
func path(o *py.Object) (kernel.Path, error) {
	if !py.IsStr(o) {
		return nil, &kernel.PathError{Path: fmt.Sprintf("<%s>", py.TypeName(o)), Code: "malformed",
			Msg: fmt.Sprintf("expected a dotted str, got %s", py.TypeName(o))}
	}
	text, err := py.Text(o)
	if err != nil {
		return nil, err
	}
	return pathOfText(text)
}

// pathOfText is path for the text of a str; text may be borrowed from the str (it is cloned
// before the cache keeps it).
func pathOfText(text string) (kernel.Path, error) {
	pathCache.Lock()
	defer pathCache.Unlock()
	if p, ok := pathCache.m[text]; ok {
		return p, nil
	}
	text = strings.Clone(text)
	p, err := kernel.ParsePath(text)
	if err != nil {
		return nil, err
	}
	for i, seg := range p {
		// One string per segment name: the commit sorts its paths, and segments that are the
		// same string compare equal without reading their bytes ("domain" in each path).
		p[i] = unique.Make(seg).Value()
	}
	if pathCache.m == nil || len(pathCache.m) >= pathCacheMax {
		pathCache.m = make(map[string]kernel.Path)
	}
	pathCache.m[text] = p
	return p, nil
}

// handleBit is where the C shim marks argument i as a theus Handle (its core number, 0 once
// closed, is then ints[i]); bit i itself marks a plain int.
const handleBit = 16

// handle resolves argument i, a theus Handle, to the core object it owns. Plain ints are not
// handles: only the Handle type the core created can name a core object.
func handle[T any](c call, i int) (T, error) {
	var zero T
	if i >= C.THEUS_INT_ARGS || c.ok&(1<<(handleBit+i)) == 0 {
		return zero, argErrorf("argument %d: expected a theus handle (%s), got %s", i+1, handleKind[T](),
			py.TypeName(c.args[i]))
	}
	h := uintptr(c.ints[i])
	if h == 0 {
		return zero, closedError[T]()
	}
	v, ok := handles.get(h).(T)
	if !ok {
		return zero, argErrorf("argument %d: expected a theus handle of a %s", i+1, handleKind[T]())
	}
	return v, nil
}

// handleKind names what a handle of type T owns.
func handleKind[T any]() string {
	var zero T
	switch any(zero).(type) {
	case *state:
		return "state"
	case *snapshot:
		return "snapshot"
	case *plan:
		return "process contract"
	case *flux.Workflow:
		return "workflow"
	case *flux.Trace:
		return "run trace"
	}
	return "core object"
}

// closedError is the error for a Handle of type T used after it was closed.
func closedError[T any]() error {
	var zero T
	switch any(zero).(type) {
	case *state:
		return argErrorf("the state is closed (close() released its values); create a new State or TheusEngine")
	case *snapshot:
		return argErrorf("the snapshot was released; take a new one with state.snapshot() or engine.state")
	}
	return argErrorf("the %s was released", handleKind[T]())
}
