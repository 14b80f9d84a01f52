package py

// #include "py.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// AddNote attaches a note to the Python exception being raised (same object, same traceback).
func AddNote(note string) {
	cs := C.CString(note)
	defer C.free(unsafe.Pointer(cs))
	C.theus_add_note(cs, C.Py_ssize_t(len(note)))
}

// Call calls fn(*args, **kwargs) (kwargs may be nil) and returns a new reference, or ErrPython.
func Call(fn, args, kwargs *Object) (*Object, error) {
	r := C.PyObject_Call(fn.c(), args.c(), kwargs.c())
	if r == nil {
		return nil, ErrPython
	}
	return obj(r), nil
}

// ToGo converts a committed Python value into a plain Go value for expression evaluation:
// nil, bool, int64 (float64 when too large), float64, string, []any or map[string]any.
func ToGo(o *Object) (any, error) {
	if inner := C.theus_unwrap(o.c()); inner != nil {
		o = obj(inner)
	}
	switch {
	case IsNone(o):
		return nil, nil
	case C.theus_is_bool(o.c()) != 0:
		return C.PyObject_IsTrue(o.c()) == 1, nil
	case IsInt(o):
		if v, ok := Int64(o); ok {
			return v, nil
		}
		f := C.PyLong_AsDouble(o.c())
		if f == -1 && C.PyErr_Occurred() != nil {
			return nil, ErrPython
		}
		return float64(f), nil
	case C.theus_is_float(o.c()) != 0:
		return float64(C.PyFloat_AsDouble(o.c())), nil
	case IsStr(o):
		return Str(o)
	case C.theus_is_list(o.c()) != 0:
		n := int(C.theus_list_size(o.c()))
		out := make([]any, 0, n)
		for i := 0; i < n && i < int(C.theus_list_size(o.c())); i++ {
			v, err := ToGo(obj(C.theus_list_item(o.c(), C.Py_ssize_t(i))))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case IsTuple(o):
		items := TupleItems(o)
		out := make([]any, len(items))
		for i, it := range items {
			v, err := ToGo(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case IsDict(o):
		keys, vals := DictItems(o)
		out := make(map[string]any, len(keys))
		for i, k := range keys {
			ks, err := Str(k)
			if err != nil {
				return nil, fmt.Errorf("a dict with a %s key cannot be used in a condition", TypeName(k))
			}
			v, err := ToGo(vals[i])
			if err != nil {
				return nil, err
			}
			out[ks] = v
		}
		return out, nil
	}
	// numbers of other types (numpy scalars, Decimal): through __index__ or __float__
	if C.PyIndex_Check(o.c()) != 0 {
		idx := C.PyNumber_Index(o.c())
		if idx != nil {
			defer C.theus_decref(idx)
			return ToGo(obj(idx))
		}
		C.PyErr_Clear()
	}
	if f := C.PyFloat_AsDouble(o.c()); !(f == -1 && C.PyErr_Occurred() != nil) {
		return float64(f), nil
	}
	C.PyErr_Clear()
	return nil, fmt.Errorf("a %s value cannot be used in a condition (use numbers, str, bool, None, lists or dicts)", TypeName(o))
}

// FromGo converts a plain Go value (nil, bool, ints, float64, string, []any, map[string]any)
// into a new Python reference.
func FromGo(v any) (*Object, error) {
	switch x := v.(type) {
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
	case float64:
		return NewFloat(x), nil
	case string:
		return NewStr(x), nil
	case []any:
		items := make([]*Object, 0, len(x))
		for _, it := range x {
			o, err := FromGo(it)
			if err != nil {
				for _, done := range items {
					done.DecRef()
				}
				return nil, err
			}
			items = append(items, o)
		}
		return NewList(items), nil
	case map[string]any:
		d := NewDict()
		for k, it := range x {
			o, err := FromGo(it)
			if err != nil {
				d.DecRef()
				return nil, err
			}
			err = SetItemStr(d, k, o)
			o.DecRef()
			if err != nil {
				d.DecRef()
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("py: cannot convert %T to Python", v)
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

// Append appends item to list l (borrowed); false with an exception set on failure.
func Append(l, item *Object) bool { return C.PyList_Append(l.c(), item.c()) == 0 }
