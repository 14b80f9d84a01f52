// Command capi is the theus._core extension module (built with -buildmode=c-shared). It holds
// module init and the exported entry points only; each entry point is short: recover guard ->
// parse arguments -> call pure Go -> convert the result or raise. CPython plumbing lives in
// capi/py, the view types in pyproxy, the state in kernel and the workflow stepper in flux.
package main

import "C"

import (
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/theus-dev/theus/capi/py"
	"github.com/theus-dev/theus/pyproxy"
)

func main() {}

// gcPercent is the Go collector's target while the user has not set GOGC: the Go heap holds
// only the tree's small nodes (Python owns the values), so collecting four times less often
// costs little memory and removes most collector work from the commit path.
const gcPercent = 400

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

//export go_module_init
func go_module_init(module unsafe.Pointer) (status C.int) {
	defer func() {
		var s int
		py.RecoverInt(&s)
		if s != 0 {
			status = C.int(s)
		}
	}()
	if !py.LoadErrors() {
		return -1
	}
	if !initViews(py.FromPtr(module)) {
		return -1
	}
	if !pyproxy.InitHandles(module) {
		return -1
	}
	if !py.InitDelete() {
		return -1
	}
	return 0
}
