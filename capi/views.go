package main

import (
	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/pyproxy"
)

// initViews adds the read-only view types to the module and lets commits see through views.
func initViews(module *py.Object) bool {
	if !pyproxy.Init(module.Ptr(), py.ContextErrorClass().Ptr(), py.ContractErrorClass().Ptr()) {
		return false
	}
	py.SetUnwrap(pyproxy.UnwrapFunc())
	py.SetKind(pyproxy.KindFunc(), pyproxy.RefusalFunc())
	py.SetHeavy(pyproxy.HeavyFunc(), pyproxy.HeavyAbandonFunc(), pyproxy.HeavyValueType())
	return true
}

// freeze returns a new reference to the read-only view of v (nil with an exception set).
func freeze(v *py.Object) *py.Object { return py.FromPtr(pyproxy.Freeze(v.Ptr())) }
