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
// become Python exceptions. It tries errorTable in order; an error no entry claims becomes
// TheusError with its message. A pending Python exception (ErrPython) is left as it is.
func SetError(err error) {
	for _, entry := range errorTable {
		if entry(err) {
			return
		}
	}
	raise(excTheus, err.Error())
}

// errorTable maps each typed Go error to its Python exception class and message, first match
// wins (errors.As, so wrapped errors count). Messages read `where: what (why)`, then the fix.
//
//	*flux.Error            FluxError(code, file, line, col); a failed step's own exception
//	                       passes through unchanged, with a note naming the step
//	PythonError            the exception already set (user code or a failed conversion)
//	*kernel.ConflictError  TransactionError(expected_version, actual_version, conflicts)
//	*kernel.PathError      PathError(path, code)
//	*kernel.KeyError       ArgumentError naming the key and the branch that holds it
//	*kernel.VersionError   TransactionError naming history= for a version not kept
//	*kernel.ClosedError    ArgumentError
//	Raiser                 the exception it raises itself
//	Coded                  the class of its ErrorKind (Errorf, capi's argument errors)
var errorTable = []func(error) bool{
	on(raiseFluxError),
	on(raisePending),
	on(raiseConflict),
	on(raisePath),
	on(raiseKey),
	on(raiseVersion),
	on(func(*kernel.ClosedError) {
		raise(excArgument, "the state is closed: it was closed with close() (or its engine was); create a new one")
	}),
	on(func(r Raiser) { r.Raise() }),
	on(func(c Coded) { raise(classOf(c.PyKind()), c.Error()) }),
}

// on makes a table entry for the error type E: it reports false when err has no E in its
// chain, and otherwise raises it with fn.
func on[E error](fn func(E)) func(error) bool {
	return func(err error) bool {
		var e E
		if !errors.As(err, &e) {
			return false
		}
		fn(e)
		return true
	}
}

// raisePending leaves the Python exception that is already set.
func raisePending(PythonError) {
	if C.PyErr_Occurred() == nil {
		raise(excInternal, "theus internal error: a Python error was reported but none is set (the state is unchanged; please report this)")
	}
}

// raiseFluxError re-raises a failed process step's own exception (annotated with the step)
// or raises FluxError.
func raiseFluxError(fe *flux.Error) {
	var pe PythonError
	if errors.As(fe.Err, &pe) && C.PyErr_Occurred() != nil {
		AddNote(fmt.Sprintf("raised by Flux step `%s` (line %d) at %s\n%s", fe.Step, fe.Pos.Line, fe.Pos, fe.Snippet))
		return
	}
	raiseFlux(fe)
}

// raiseFlux raises FluxError with its code and position as attributes; the message is the
// documented "file:line:col: flux: what", then the source line and a caret.
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
		return fmt.Sprintf("commit rejected: the state moved from version %d to %d after the writer read it "+
			"(strict: any commit in between rejects it); re-read the state and retry", e.Expected, e.Actual)
	}
	what := "were written, created or removed"
	if len(e.Paths) == 1 {
		what = "was written, created or removed"
	}
	return fmt.Sprintf("%s: commit rejected (%s by another commit between version %d, which the writer read, and version %d); "+
		"re-read the state and retry", strings.Join(e.Paths, ", "), what, e.Expected, e.Actual)
}

// pathHints completes kernel path errors with what to do about them.
var pathHints = map[string]string{
	kernel.CodeEmpty:      `write a dotted path such as "domain.counter"`,
	kernel.CodeMalformed:  `write a dotted path such as "domain.counter": non-empty names joined by "."`,
	kernel.CodeNotFound:   "check the spelling, or read it with .get(path, default)",
	kernel.CodeNotABranch: "a leaf value has no children; write the leaf itself, or make it a dict",
	kernel.CodeOverlap:    "write the parent or the child, not both",
	kernel.CodeReused:     "write a fresh value",
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

// keyMessage names a key that no path can address and the branch holding it.
func keyMessage(e *kernel.KeyError) string {
	where := "the top level (a zone name)"
	if e.Path != "" {
		where = fmt.Sprintf("path %q", e.Path)
	}
	return fmt.Sprintf("%s: key %q %s, so no path could address it (state paths are dotted: "+
		"every dict key stored as a branch must be a non-empty str without \".\"); rename the key", where, e.Key, e.Msg)
}

func raiseKey(e *kernel.KeyError) { raise(excArgument, keyMessage(e)) }

// versionMessage says which versions exist and how to keep the one asked for.
func versionMessage(e *kernel.VersionError) string {
	if e.Code == kernel.CodeNotRetained {
		return fmt.Sprintf("version %d: not kept (the current version is %d; old versions live only while a "+
			"snapshot of them is held); keep the last N versions with TheusEngine(history=N) or State(history=N), "+
			"or hold a snapshot of that version", e.Requested, e.Current)
	}
	return fmt.Sprintf("version %d: does not exist yet, it is in the future (the current version is %d); use a version read from "+
		".version of the state or of a snapshot", e.Requested, e.Current)
}

func raiseVersion(e *kernel.VersionError) { raise(excTransaction, versionMessage(e)) }
