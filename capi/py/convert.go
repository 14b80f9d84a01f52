package py

// #include "py.h"
import "C"

import (
	"fmt"
	"slices"
	"unsafe"
)

// TypeName is the Python type name of o, for error messages.
func TypeName(o *Object) string { return C.GoString(C.theus_type_name(o.c())) }

// The type tests read the object header from Go (ob_type, tp_flags): no crossing into C.
func flags(o *Object) C.ulong { return o.c().ob_type.tp_flags }

// IsNone, IsStr, IsDict, IsInt (not bool), and IsTuple test the type of o.
func IsNone(o *Object) bool  { return o.c() == &C._Py_NoneStruct }
func IsStr(o *Object) bool   { return flags(o)&C.Py_TPFLAGS_UNICODE_SUBCLASS != 0 }
func IsDict(o *Object) bool  { return flags(o)&C.Py_TPFLAGS_DICT_SUBCLASS != 0 }
func IsTuple(o *Object) bool { return flags(o)&C.Py_TPFLAGS_TUPLE_SUBCLASS != 0 }
func IsInt(o *Object) bool {
	return flags(o)&C.Py_TPFLAGS_LONG_SUBCLASS != 0 && o.c().ob_type != &C.PyBool_Type
}

// None returns a new reference to None.
func None() *Object { return obj(C.theus_none()) }

// Bool returns a new reference to True or False.
func Bool(v bool) *Object {
	if v {
		return obj(C.theus_bool(1))
	}
	return obj(C.theus_bool(0))
}

// Str returns the Go copy of a Python str; ErrPython when o is not a str or cannot be encoded.
func Str(o *Object) (string, error) {
	if !IsStr(o) {
		return "", fmt.Errorf("expected str, got %s", TypeName(o))
	}
	t := C.theus_text_of(o.u())
	if t.err != 0 {
		return "", ErrPython
	}
	return C.GoStringN(t.p, C.int(t.n)), nil
}

// NewStr returns a new Python str.
func NewStr(s string) *Object {
	if s == "" {
		return obj(C.PyUnicode_FromStringAndSize(nil, 0))
	}
	return obj(C.PyUnicode_FromStringAndSize((*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.Py_ssize_t(len(s))))
}

// Int64 converts a Python int (not bool); ok is false with no exception set when o is not an
// int or does not fit.
func Int64(o *Object) (int64, bool) {
	if !IsInt(o) {
		return 0, false
	}
	r := C.theus_i64_of(o.u())
	return int64(r.v), r.ok != 0
}

// NewInt and NewUint return new Python ints.
func NewInt(v int64) *Object   { return obj(C.PyLong_FromLongLong(C.longlong(v))) }
func NewUint(v uint64) *Object { return obj(C.PyLong_FromUnsignedLongLong(C.ulonglong(v))) }

// NewFloat returns a new Python float.
func NewFloat(v float64) *Object { return obj(C.PyFloat_FromDouble(C.double(v))) }

// Truth is Python's bool(o); ErrPython when __bool__ raised.
func Truth(o *Object) (bool, error) {
	switch unsafe.Pointer(o) {
	case unsafe.Pointer(&C._Py_TrueStruct):
		return true, nil
	case unsafe.Pointer(&C._Py_FalseStruct):
		return false, nil
	}
	r := C.PyObject_IsTrue(o.c())
	if r < 0 {
		return false, ErrPython
	}
	return r == 1, nil
}

// Text is the UTF-8 text of a str without copying it: valid only while o is alive and
// unchanged, so callers must not keep it (strings.Clone it to keep it).
func Text(o *Object) (string, error) {
	if !IsStr(o) {
		return "", fmt.Errorf("expected str, got %s", TypeName(o))
	}
	t := C.theus_text_of(o.u())
	if t.err != 0 {
		return "", ErrPython
	}
	return unsafe.String((*byte)(unsafe.Pointer(t.p)), int(t.n)), nil
}

// DictIter walks a dict's items (borrowed references) in insertion order.
type DictIter struct {
	d   *Object
	pos C.Py_ssize_t
}

// Items starts a walk over dict d.
func Items(d *Object) DictIter { return DictIter{d: d} }

// Next returns the next key and value, or ok false at the end.
func (it *DictIter) Next() (k, v *Object, ok bool) {
	r := C.theus_dict_next(it.d.u(), it.pos)
	if r.ok == 0 {
		return nil, nil, false
	}
	it.pos = r.pos
	return obj(r.k), obj(r.v), true
}

// DictItems returns the borrowed keys and values of dict d, in insertion order.
func DictItems(d *Object) (keys, vals []*Object) {
	for it := C.theus_dict_next(d.u(), 0); it.ok != 0; it = C.theus_dict_next(d.u(), it.pos) {
		keys = append(keys, obj(it.k))
		vals = append(vals, obj(it.v))
	}
	return keys, vals
}

// NewDict returns a new empty dict.
func NewDict() *Object { return obj(C.PyDict_New()) }

// SetItemStr sets d[key] = v (v borrowed); ErrPython on failure.
func SetItemStr(d *Object, key string, v *Object) error {
	k := NewStr(key)
	if k == nil {
		return ErrPython
	}
	defer k.DecRef()
	return SetItem(d, k, v)
}

// DictCopy returns a new shallow copy of dict d.
func DictCopy(d *Object) (*Object, error) {
	c := C.PyDict_Copy(d.c())
	if c == nil {
		return nil, ErrPython
	}
	return obj(c), nil
}

// DictGet returns d[key] (borrowed), or nil when d has no such key; ErrPython when the
// lookup raised (a str subclass key with a failing __eq__ cannot occur: key is a new str).
func DictGet(d *Object, key string) (*Object, error) {
	k := NewStr(key)
	if k == nil {
		return nil, ErrPython
	}
	defer k.DecRef()
	v := C.PyDict_GetItemWithError(d.c(), k.c())
	if v == nil && C.PyErr_Occurred() != nil {
		return nil, ErrPython
	}
	return obj(v), nil
}

// SetItem sets d[k] = v (both borrowed).
func SetItem(d, k, v *Object) error {
	if C.theus_setitem_u(d.u(), k.u(), v.u()) < 0 {
		return ErrPython
	}
	return nil
}

// NewTuple builds a tuple from owned references (the tuple steals them); nil when an item is
// nil (its constructor failed, with an exception set) or the tuple cannot be made, the other
// items then dropped. One crossing: the items are stored as PyTuple_SET_ITEM does.
func NewTuple(items ...*Object) *Object {
	var t *C.PyObject
	if !slices.Contains(items, nil) {
		t = C.PyTuple_New(C.Py_ssize_t(len(items)))
	}
	if t == nil {
		for _, it := range items {
			if it != nil {
				it.DecRef()
			}
		}
		return nil
	}
	if len(items) > 0 {
		slots := unsafe.Slice(&(*C.PyTupleObject)(unsafe.Pointer(t)).ob_item[0], len(items))
		for i, it := range items {
			slots[i] = it.c()
		}
	}
	return obj(t)
}

// NewStrTuple builds a tuple of str.
func NewStrTuple(items []string) *Object {
	objs := make([]*Object, len(items))
	for i, s := range items {
		objs[i] = NewStr(s)
	}
	return NewTuple(objs...)
}

// NewList builds a list from owned references (the list steals them).
func NewList(items []*Object) *Object {
	l := C.PyList_New(C.Py_ssize_t(len(items)))
	if l == nil {
		for _, it := range items {
			it.DecRef()
		}
		return nil
	}
	for i, it := range items {
		C.PyList_SetItem(l, C.Py_ssize_t(i), it.c())
	}
	return obj(l)
}

// TupleItems returns the borrowed items of a tuple.
func TupleItems(t *Object) []*Object {
	n := int(C.theus_tuple_size(t.c()))
	out := make([]*Object, n)
	for i := range out {
		out[i] = obj(C.theus_tuple_item(t.c(), C.Py_ssize_t(i)))
	}
	return out
}

// Args views a FASTCALL argument vector.
func Args(args unsafe.Pointer, n int) []*Object {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((**Object)(args), n)
}

// CheckSignals runs Python's signal handlers; ErrPython when one raised (KeyboardInterrupt).
func CheckSignals() error {
	if C.PyErr_CheckSignals() < 0 {
		return ErrPython
	}
	return nil
}
