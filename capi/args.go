package main

// #include "py/py.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
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
func newCall(name string, args unsafe.Pointer, n int, ints *C.longlong, ok C.uint, want int) ([]*py.Object, *call, error) {
	if n != want {
		return nil, nil, argErrorf("%s: expected %d arguments, got %d", name, want, n)
	}
	c := &call{args: py.Args(args, n), ints: (*[C.THEUS_INT_ARGS]C.longlong)(unsafe.Pointer(ints)), ok: ok}
	return c.args, c, nil
}

// int64 is argument i as an int: pre-read when possible, else converted now.
func (c *call) int64(i int) (int64, bool) {
	if i < C.THEUS_INT_ARGS && c.ok&(1<<i) != 0 {
		return int64(c.ints[i]), true
	}
	return py.Int64(c.args[i])
}

// version parses argument i as a version: an int >= 0.
func (c *call) version(what string, i int) (kernel.Version, error) {
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
			Msg: fmt.Sprintf("a path is a dotted str such as \"domain.counter\", got %s", py.TypeName(o))}
	}
	text, err := py.Text(o)
	if err != nil {
		return nil, err
	}
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
	if pathCache.m == nil || len(pathCache.m) >= pathCacheMax {
		pathCache.m = make(map[string]kernel.Path)
	}
	pathCache.m[text] = p
	return p, nil
}

// handle resolves argument i, a handle, to the Go value it stands for.
func handle[T any](c *call, i int) (T, error) {
	var zero T
	h, ok := c.int64(i)
	if !ok || h <= 0 {
		return zero, argErrorf("argument %d is not a theus handle", i+1)
	}
	v, live := handleValue(cgo.Handle(h))
	if !live {
		return zero, argErrorf("argument %d is not a live theus handle (it was freed, or never was one)", i+1)
	}
	t, ok := v.(T)
	if !ok {
		return zero, argErrorf("argument %d is a theus handle of the wrong kind", i+1)
	}
	return t, nil
}

// handleValue is h.Value(), reporting a freed or made-up handle instead of panicking.
func handleValue(h cgo.Handle) (v any, live bool) {
	defer func() {
		if recover() != nil {
			v, live = nil, false
		}
	}()
	return h.Value(), true
}
