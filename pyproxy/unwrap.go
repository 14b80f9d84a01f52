package pyproxy

// #include "internal.h"
import "C"

import "unsafe"

// UnwrapFunc is the address of the C function that returns the committed object behind a
// view (borrowed) or NULL; commits use it so a process may return a view it was given.
func UnwrapFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_view_data) }

// KindFunc is the address of the one value classifier (theus_kind_classify, see
// capi/py/kind.h); RefusalFunc the address of the function that says why a REFUSED value
// cannot be stored.
func KindFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_kind_classify) }

// RefusalFunc: see KindFunc.
func RefusalFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_refusal_text) }

// HeavyFunc is the address of the heavy zone's ownership rule (theus_own_heavy in heavy.c).
func HeavyFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_own_heavy) }

// HeavyAbandonFunc is the address of theus_heavy_abandon (heavy.c).
func HeavyAbandonFunc() unsafe.Pointer { return unsafe.Pointer(C.theus_heavy_abandon) }

// HeavyValueType is the address of the type of the values the heavy zone stores.
func HeavyValueType() unsafe.Pointer { return unsafe.Pointer(&C.theus_HeavyValue_Type) }
