package main

import (
	"fmt"
	"runtime/cgo"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/kernel"
)

// argError is raised as theus.ArgumentError.
type argError struct{ msg string }

func (e *argError) Error() string        { return e.msg }
func (e *argError) PyKind() py.ErrorKind { return py.KindArgument }

func argErrorf(format string, a ...any) error { return &argError{fmt.Sprintf(format, a...)} }

// entryArgs checks the argument count of an entry point.
func entryArgs(name string, args unsafe.Pointer, n int, want int) ([]*py.Object, error) {
	if n != want {
		return nil, argErrorf("%s: expected %d arguments, got %d", name, want, n)
	}
	return py.Args(args, n), nil
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

// version parses a version argument: an int >= 0.
func version(what string, o *py.Object) (kernel.Version, error) {
	v, ok := py.Int64(o)
	if !ok {
		if py.IsInt(o) {
			return 0, argErrorf("%s: %s is too large to be a version", what, "value")
		}
		return 0, argErrorf("%s: expected an int version, got %s", what, py.TypeName(o))
	}
	if v < 0 {
		return 0, argErrorf("%s: a version is >= 0, got %d", what, v)
	}
	return kernel.Version(v), nil
}

// path parses a dotted state path.
func path(o *py.Object) (kernel.Path, error) {
	if !py.IsStr(o) {
		return nil, &kernel.PathError{Path: fmt.Sprintf("<%s>", py.TypeName(o)), Code: "malformed",
			Msg: fmt.Sprintf("a path is a dotted str such as \"domain.counter\", got %s", py.TypeName(o))}
	}
	s, err := py.Str(o)
	if err != nil {
		return nil, err
	}
	return kernel.ParsePath(s)
}

// handle resolves a handle argument to the Go value it stands for.
func handle[T any](what string, o *py.Object) (T, error) {
	var zero T
	h, ok := py.Int64(o)
	if !ok || h <= 0 {
		return zero, argErrorf("%s: not a theus handle", what)
	}
	v, ok := cgo.Handle(h).Value().(T)
	if !ok {
		return zero, argErrorf("%s: handle of the wrong kind", what)
	}
	return v, nil
}
