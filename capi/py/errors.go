package py

// #include "py.h"
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/theus-dev/theus/flux"
	"github.com/theus-dev/theus/kernel"
)

// The exception classes of theus.errors, taken once at module init (strong references kept
// for the life of the process).
var (
	excTheus       *C.PyObject
	excContext     *C.PyObject
	excPath        *C.PyObject
	excArgument    *C.PyObject
	excTransaction *C.PyObject
	excContract    *C.PyObject
	excFlux        *C.PyObject
	excInternal    *C.PyObject
)

// LoadErrors imports theus.errors and keeps its exception classes. It reports false with a
// Python exception set when one is missing.
func LoadErrors() bool {
	name := C.CString("theus.errors")
	defer C.free(unsafe.Pointer(name))
	mod := C.PyImport_ImportModule(name)
	if mod == nil {
		return false
	}
	defer C.theus_decref(mod)
	for _, e := range []struct {
		dst  **C.PyObject
		name string
	}{
		{&excTheus, "TheusError"}, {&excContext, "ContextError"}, {&excPath, "PathError"},
		{&excArgument, "ArgumentError"}, {&excTransaction, "TransactionError"},
		{&excContract, "ContractViolationError"}, {&excFlux, "FluxError"},
		{&excInternal, "InternalError"},
	} {
		cname := C.CString(e.name)
		cls := C.PyObject_GetAttrString(mod, cname)
		C.free(unsafe.Pointer(cname))
		if cls == nil {
			return false
		}
		*e.dst = cls
	}
	return true
}

// ContextErrorClass and ContractErrorClass hand the classes to the view types (borrowed).
func ContextErrorClass() *Object  { return obj(excContext) }
func ContractErrorClass() *Object { return obj(excContract) }

func raise(cls *C.PyObject, msg string) {
	if cls == nil { // before init: fall back to RuntimeError
		cls = C.PyExc_RuntimeError
	}
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.theus_set_error(cls, cmsg, C.Py_ssize_t(len(msg)))
}

// ErrorKind selects the theus exception class for a plain message.
type ErrorKind int

// The exception classes a Go error can become.
const (
	KindTheus ErrorKind = iota
	KindContext
	KindPath
	KindArgument
	KindTransaction
	KindContract
	KindFlux
	KindInternal
	KindRuntime // builtin RuntimeError
	KindType    // builtin TypeError
)

// Coded is implemented by Go errors that choose their own Python exception class.
type Coded interface {
	error
	PyKind() ErrorKind
}

// Raiser is implemented by Go errors that raise a richer Python exception themselves
// (with attributes); Raise must set a Python exception.
type Raiser interface {
	error
	Raise()
}

// kindError is a Go error raised as a chosen theus exception class.
type kindError struct {
	kind ErrorKind
	msg  string
}

func (e *kindError) Error() string     { return e.msg }
func (e *kindError) PyKind() ErrorKind { return e.kind }

// Errorf returns an error that SetError raises as the exception class of kind.
func Errorf(kind ErrorKind, format string, a ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// PythonError carries an exception already set by Python code (a user's process raised, a
// conversion failed). SetError leaves that exception in place, unchanged.
type PythonError struct{}

func (PythonError) Error() string { return "py: python exception set" }

// ErrPython is returned by conversions when a Python exception is set.
var ErrPython error = PythonError{}

func classOf(k ErrorKind) *C.PyObject {
	switch k {
	case KindContext:
		return excContext
	case KindPath:
		return excPath
	case KindArgument:
		return excArgument
	case KindTransaction:
		return excTransaction
	case KindContract:
		return excContract
	case KindFlux:
		return excFlux
	case KindInternal:
		return excInternal
	case KindRuntime:
		return C.PyExc_RuntimeError
	case KindType:
		return C.PyExc_TypeError
	}
	return excTheus
}

// Raise sets a Python exception of kind k with message msg.
func Raise(k ErrorKind, msg string) { raise(classOf(k), msg) }

// SetError turns err into the matching Python exception: the one place where Go errors
// become Python exceptions. A pending Python exception (ErrPython) is left as it is.
func SetError(err error) {
	var fe *flux.Error
	if errors.As(err, &fe) {
		var pe PythonError
		if errors.As(fe.Err, &pe) && C.PyErr_Occurred() != nil {
			// a process failed: re-raise its own exception, annotated with the step
			AddNote(fmt.Sprintf("raised by Flux step `%s` (line %d) at %s\n%s", fe.Step, fe.Pos.Line, fe.Pos, fe.Snippet))
			return
		}
		raiseFlux(fe)
		return
	}
	var pe PythonError
	if errors.As(err, &pe) {
		if C.PyErr_Occurred() == nil {
			raise(excInternal, "theus internal error: a Python error was reported but none is set")
		}
		return
	}
	if setKernelError(err) {
		return
	}
	var r Raiser
	if errors.As(err, &r) {
		r.Raise()
		return
	}
	var c Coded
	if errors.As(err, &c) {
		raise(classOf(c.PyKind()), err.Error())
		return
	}
	raise(excTheus, err.Error())
}

// raiseFlux raises FluxError with its code and position as attributes.
func raiseFlux(fe *flux.Error) {
	kw := NewDict()
	for _, kv := range []struct {
		k string
		v *Object
	}{
		{"code", NewStr(fe.Code)}, {"file", NewStr(fe.Pos.File)},
		{"line", NewInt(int64(fe.Pos.Line))}, {"col", NewInt(int64(fe.Pos.Col))},
	} {
		_ = SetItemStr(kw, kv.k, kv.v)
		kv.v.DecRef()
	}
	args := NewTuple(NewStr(fe.Error()))
	CallClass(KindFlux, args, kw)
	args.DecRef()
	kw.DecRef()
}

// CallClass calls cls(*args, **kwargs) and raises the result; used by Raiser implementations.
func CallClass(k ErrorKind, args *Object, kwargs *Object) {
	C.theus_raise_call(classOf(k), args.c(), kwargs.c())
}

// raiseConflict raises TransactionError with its attributes.
func raiseConflict(e *kernel.ConflictError) {
	msg := NewStr(conflictMessage(e))
	kw := NewDict()
	exp := NewUint(e.Expected)
	act := NewUint(e.Actual)
	paths := NewStrTuple(e.Paths)
	_ = SetItemStr(kw, "expected_version", exp)
	_ = SetItemStr(kw, "actual_version", act)
	_ = SetItemStr(kw, "conflicts", paths)
	exp.DecRef()
	act.DecRef()
	paths.DecRef()
	args := NewTuple(msg)
	CallClass(KindTransaction, args, kw)
	args.DecRef()
	kw.DecRef()
}

func conflictMessage(e *kernel.ConflictError) string {
	if len(e.Paths) == 0 {
		return fmt.Sprintf("commit rejected: the state moved from version %d to %d since the writer read it (strict check); re-read and retry", e.Expected, e.Actual)
	}
	return fmt.Sprintf("commit rejected: %s changed between version %d (read) and %d (now); re-read and retry", strings.Join(e.Paths, ", "), e.Expected, e.Actual)
}

// pathHints completes kernel path errors with what to do about them.
var pathHints = map[string]string{
	kernel.CodeEmpty:      `write a dotted path such as "domain.counter"`,
	kernel.CodeMalformed:  `write a dotted path such as "domain.counter"`,
	kernel.CodeNotFound:   "check the spelling",
	kernel.CodeNotABranch: "a leaf value has no children; write the leaf itself, or make it a dict",
	kernel.CodeOverlap:    "write the parent or the child, not both",
}

func pathMessage(e *kernel.PathError) string {
	msg := fmt.Sprintf("path %q: %s", e.Path, e.Msg)
	if hint, ok := pathHints[e.Code]; ok {
		msg += " (" + hint + ")"
	}
	return msg
}

func raisePath(e *kernel.PathError) {
	msg := NewStr(pathMessage(e))
	p := NewStr(e.Path)
	code := NewStr(e.Code)
	args := NewTuple(msg, p, code)
	CallClass(KindPath, args, nil)
	args.DecRef()
}

// setKernelError handles the kernel's typed errors; false when err is not one.
func setKernelError(err error) bool {
	var ce *kernel.ConflictError
	if errors.As(err, &ce) {
		raiseConflict(ce)
		return true
	}
	var pe *kernel.PathError
	if errors.As(err, &pe) {
		raisePath(pe)
		return true
	}
	var ve *kernel.VersionError
	if errors.As(err, &ve) {
		raise(excTransaction, fmt.Sprintf("version %d %s; the current version is %d", ve.Requested, ve.Msg, ve.Current))
		return true
	}
	var closed *kernel.ClosedError
	if errors.As(err, &closed) {
		raise(excArgument, "the state is closed")
		return true
	}
	return false
}
