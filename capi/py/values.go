package py

// #include "py.h"
import "C"

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unsafe"

	"github.com/theus-dev/theus/flux"
)

// AddNote attaches a note to the Python exception being raised (same object, same traceback).
func AddNote(note string) {
	cs := C.CString(note)
	defer C.free(unsafe.Pointer(cs))
	C.theus_add_note(cs, C.Py_ssize_t(len(note)))
}

// Call calls fn(*args, **kwargs) (kwargs may be nil) and returns a new reference, or ErrPython.
func Call(fn, args, kwargs *Object) (*Object, error) {
	r := C.theus_call_u(fn.u(), args.u(), kwargs.u())
	if r == nil {
		return nil, ErrPython
	}
	return obj(r), nil
}

// maxConditionDepth bounds the nesting ToGo follows, so deep data is an error, not a
// stack overflow.
const maxConditionDepth = 1000

// ToGo converts a committed Python value into a condition value: nil, bool, int (an
// integer that fits in 64 bits), *big.Int (any larger one, exact), float64, string, []any,
// map[string]any, flux.Set (a set or frozenset), or flux.Opaque for a value conditions
// cannot look inside (bytes, arrays, objects, dicts with non-str keys). What a value is comes
// from the one value classifier (theus_kind, see kind.h); toGo only maps its kinds.
func ToGo(o *Object) (any, error) { return toGo(o, 0) }

func toGo(o *Object, depth int) (any, error) {
	if depth > maxConditionDepth {
		return nil, Errorf(KindFlux, "a value nested deeper than %d levels cannot be used in a condition", maxConditionDepth)
	}
	if inner := C.theus_unwrap(o.c()); inner != nil {
		o = obj(inner)
	}
	// The exact scalar types first (the classifier agrees: they are SCALARs), then the one
	// classifier decides what every other value is.
	switch {
	case IsNone(o):
		return nil, nil
	case C.theus_is_bool(o.c()) != 0:
		return C.PyObject_IsTrue(o.c()) == 1, nil
	case IsInt(o):
		if v, ok := Int64(o); ok {
			return int(v), nil
		}
		return bigInt(o)
	case C.theus_is_float(o.c()) != 0:
		return float64(C.PyFloat_AsDouble(o.c())), nil
	case IsStr(o):
		return strValue(o)
	}
	switch C.theus_kind(o.c(), 0) {
	case C.THEUS_KIND_ERROR:
		return nil, ErrPython
	case C.THEUS_KIND_DICT:
		return dictToGo(o, depth)
	case C.THEUS_KIND_LIST, C.THEUS_KIND_TUPLE, C.THEUS_KIND_NAMEDTUPLE:
		return seqToGo(o, depth)
	case C.THEUS_KIND_SET:
		return setToGo(o, depth)
	case C.THEUS_KIND_SCALAR, C.THEUS_KIND_OPAQUE: // immutable values: tuples of scalars, numbers of other libraries
		if IsTuple(o) {
			return seqToGo(o, depth)
		}
		if C.PyType_IsSubtype(o.c().ob_type, &C.PyFrozenSet_Type) != 0 {
			return setToGo(o, depth)
		}
		return numberToGo(o, depth)
	}
	return flux.NewOpaque(TypeName(o)), nil
}

// seqToGo converts a list or tuple (or a subclass) item by item.
func seqToGo(o *Object, depth int) (any, error) {
	if IsTuple(o) {
		items := TupleItems(o)
		out := make([]any, len(items))
		for i, it := range items {
			v, err := toGo(it, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := make([]any, 0, int(C.theus_list_size(o.c())))
	for i := 0; i < int(C.theus_list_size(o.c())); i++ {
		v, err := toGo(obj(C.theus_list_item(o.c(), C.Py_ssize_t(i))), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// dictToGo converts a dict with str keys to a map; any other key makes it one opaque value.
func dictToGo(o *Object, depth int) (any, error) {
	keys, vals := DictItems(o)
	out := make(map[string]any, len(keys))
	for i, k := range keys {
		if !IsStr(k) {
			return flux.NewOpaque(TypeName(o) + " with " + TypeName(k) + " keys"), nil
		}
		ks, err := strValue(k)
		if err != nil {
			return nil, err
		}
		v, err := toGo(vals[i], depth+1)
		if err != nil {
			return nil, err
		}
		out[ks] = v
	}
	return out, nil
}

// setToGo converts a set or frozenset to a flux.Set of its items.
func setToGo(o *Object, depth int) (any, error) {
	items := C.PySequence_List(o.c())
	if items == nil {
		return nil, ErrPython
	}
	defer C.theus_decref(items)
	l, err := seqToGo(obj(items), depth)
	if err != nil {
		return nil, err
	}
	return flux.Set(l.([]any)), nil
}

// numberToGo converts the integer and float types of other libraries (numpy.int64,
// numpy.float32); anything else is an opaque value.
func numberToGo(o *Object, depth int) (any, error) {
	switch {
	case C.PyIndex_Check(o.c()) != 0:
		idx := C.PyNumber_Index(o.c())
		if idx == nil {
			C.PyErr_Clear()
			return flux.NewOpaque(TypeName(o)), nil
		}
		defer C.theus_decref(idx)
		return toGo(obj(idx), depth+1)
	case C.PyNumber_Check(o.c()) != 0:
		if C.PyObject_Size(o.c()) >= 0 { // sized, such as an array: not one number
			break
		}
		C.PyErr_Clear()
		if f := C.PyFloat_AsDouble(o.c()); !(f == -1 && C.PyErr_Occurred() != nil) {
			return float64(f), nil
		}
		C.PyErr_Clear()
	}
	return flux.NewOpaque(TypeName(o)), nil
}

// IsCallable reports whether o can be called.
func IsCallable(o *Object) bool { return C.PyCallable_Check(o.c()) != 0 }

// IsList reports whether o is a list (or a subclass).
func IsList(o *Object) bool { return C.theus_is_list(o.c()) != 0 }

// Below reads the condition value at keys below a committed leaf value o: a dict is
// entered by str key (flux.Missing when the key is absent); any other value yields
// flux.NotAMapping. depth is the number of path segments that lead to o.
func Below(o *Object, depth int, keys []string) (any, error) {
	for i, k := range keys {
		if inner := C.theus_unwrap(o.c()); inner != nil {
			o = obj(inner)
		}
		if !IsDict(o) {
			return flux.NotAMapping{Depth: depth + i, Type: TypeName(o)}, nil
		}
		key := NewStr(k)
		if key == nil {
			return nil, ErrPython
		}
		item := C.PyDict_GetItemWithError(o.c(), key.c()) // borrowed
		key.DecRef()
		if item == nil {
			if C.PyErr_Occurred() != nil {
				return nil, ErrPython
			}
			return flux.Missing{}, nil
		}
		o = obj(item)
	}
	return ToGo(o)
}

// strValue is a str as a condition sees it. A str holding lone surrogates (which UTF-8
// cannot encode) keeps them as their 3-byte sequences, so it still compares exactly: it
// equals no other text and sorts by code point.
func strValue(o *Object) (string, error) {
	if s, err := Str(o); err == nil {
		return s, nil
	}
	C.PyErr_Clear()
	enc, errs := C.CString("utf-8"), C.CString("surrogatepass")
	defer C.free(unsafe.Pointer(enc))
	defer C.free(unsafe.Pointer(errs))
	b := C.PyUnicode_AsEncodedString(o.c(), enc, errs)
	if b == nil {
		return "", ErrPython
	}
	defer C.theus_decref(b)
	var p *C.char
	var n C.Py_ssize_t
	if C.PyBytes_AsStringAndSize(b, &p, &n) != 0 {
		return "", ErrPython
	}
	return C.GoStringN(p, C.int(n)), nil
}

// bigInt converts a Python int beyond 64 bits exactly. Hexadecimal text is not subject to
// Python's limit on decimal digits.
func bigInt(o *Object) (any, error) {
	hex := C.PyNumber_ToBase(o.c(), 16)
	if hex == nil {
		return nil, ErrPython
	}
	defer C.theus_decref(hex)
	s, err := Str(obj(hex))
	if err != nil {
		return nil, err
	}
	b, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return nil, Errorf(KindInternal, "cannot read the integer %s", s)
	}
	return flux.NormInt(b), nil
}

// newBigInt converts an exact integer to a new Python int.
func newBigInt(b *big.Int) *Object {
	text := b.Text(16)
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	return obj(C.PyLong_FromString(cs, nil, 16))
}

// FromGo converts a plain Go value (nil, bool, ints, *big.Int, float64, string, []any,
// flux.Map in its order, map[string]any) into a new Python reference.
func FromGo(v any) (*Object, error) { return FromGoWith(v, nil) }

// FromGoWith is FromGo where a flux.ArgRef (a `${args.name}` in a workflow's `with:`) becomes
// the Python object ref returns for its name (a borrowed reference, or nil for an absent
// argument: then the value is None).
func FromGoWith(v any, ref func(name string) *Object) (*Object, error) {
	switch x := v.(type) {
	case flux.ArgRef:
		if ref != nil {
			if o := ref(x.Name); o != nil {
				return o.IncRef(), nil
			}
		}
		return None(), nil
	case nil:
		return None(), nil
	case bool:
		return Bool(x), nil
	case int:
		return NewInt(int64(x)), nil
	case int64:
		return NewInt(x), nil
	case uint64:
		return NewUint(x), nil
	case *big.Int:
		if o := newBigInt(x); o != nil {
			return o, nil
		}
		return nil, ErrPython
	case float64:
		return NewFloat(x), nil
	case string:
		return NewStr(x), nil
	case []any:
		items := make([]*Object, 0, len(x))
		for _, it := range x {
			o, err := FromGoWith(it, ref)
			if err != nil {
				for _, done := range items {
					done.DecRef()
				}
				return nil, err
			}
			items = append(items, o)
		}
		return NewList(items), nil
	case flux.Map:
		d := NewDict()
		for _, kv := range x {
			if err := setFromGo(d, kv.Key, kv.Value, ref); err != nil {
				d.DecRef()
				return nil, err
			}
		}
		return d, nil
	case map[string]any:
		d := NewDict()
		for k, it := range x {
			if err := setFromGo(d, k, it, ref); err != nil {
				d.DecRef()
				return nil, err
			}
		}
		return d, nil
	}
	return nil, Errorf(KindInternal, "a %s value cannot be passed to Python", fmt.Sprintf("%T", v))
}

func setFromGo(d *Object, k string, v any, ref func(string) *Object) error {
	o, err := FromGoWith(v, ref)
	if err != nil {
		return err
	}
	err = SetItemStr(d, k, o)
	o.DecRef()
	return err
}

// CatchPending takes the pending exception out of the way when it is an Exception (never a
// KeyboardInterrupt or SystemExit) whose class, or one of its bases, has one of the names in
// classes (any Exception when classes is empty), and returns its class name and str(). When
// it does not match, it stays pending and ok is false.
func CatchPending(classes []string) (typ, msg string, ok bool) {
	if C.PyErr_Occurred() == nil || C.PyErr_ExceptionMatches(C.PyExc_Exception) == 0 {
		return "", "", false
	}
	var t, v, tb *C.PyObject
	C.PyErr_Fetch(&t, &v, &tb)
	C.PyErr_NormalizeException(&t, &v, &tb)
	tp := (*C.PyTypeObject)(unsafe.Pointer(t))
	ok = len(classes) == 0
	if mro := tp.tp_mro; !ok && mro != nil {
		for i := C.Py_ssize_t(0); i < C.PyTuple_Size(mro) && !ok; i++ {
			base := (*C.PyTypeObject)(unsafe.Pointer(C.PyTuple_GetItem(mro, i)))
			ok = slices.Contains(classes, shortName(base))
		}
	}
	if !ok {
		C.PyErr_Restore(t, v, tb)
		return "", "", false
	}
	typ = shortName(tp)
	if s := C.PyObject_Str(v); s != nil {
		msg, _ = Str(obj(s))
		C.Py_DecRef(s)
	}
	C.PyErr_Clear()
	C.Py_DecRef(t)
	C.Py_DecRef(v)
	C.Py_DecRef(tb)
	return typ, msg, true
}

// shortName is a type's name without its module (numpy's "numpy.linalg.LinAlgError" is
// "LinAlgError"; Python classes have no module in it).
func shortName(tp *C.PyTypeObject) string {
	name := C.GoString(tp.tp_name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// SavedError holds a Python exception taken out of the way while other Python calls run.
type SavedError struct{ typ, val, tb *C.PyObject }

// FetchError takes the pending Python exception (if any) out of the way.
func FetchError() SavedError {
	var s SavedError
	C.PyErr_Fetch(&s.typ, &s.val, &s.tb)
	return s
}

// RestoreError puts a fetched exception back (a no-op for none), replacing any newer one.
func RestoreError(s SavedError) {
	if s.typ == nil {
		return
	}
	C.PyErr_Restore(s.typ, s.val, s.tb)
}

// WriteUnraisable reports the pending exception through sys.unraisablehook (the way
// exceptions in callbacks are reported), naming where it happened, and clears it.
func WriteUnraisable(where *Object) {
	if C.PyErr_Occurred() != nil {
		C.PyErr_WriteUnraisable(where.c())
	}
}

// Drop releases a fetched exception that will not be restored.
func (s SavedError) Drop() {
	C.Py_DecRef(s.typ)
	C.Py_DecRef(s.val)
	C.Py_DecRef(s.tb)
}

// Pending reports whether a fetched exception is held.
func (s SavedError) Pending() bool { return s.typ != nil }

// Append appends item to list l (borrowed); false with an exception set on failure.
func Append(l, item *Object) bool { return C.PyList_Append(l.c(), item.c()) == 0 }
