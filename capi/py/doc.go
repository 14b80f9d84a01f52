// Package py is the one owner of CPython plumbing in theus: the global interpreter lock,
// reference counts, the pending-decref queue, conversions between Go and Python values and the
// table that turns Go errors into Python exceptions.
//
// Ownership rules. A *Object held by Go code is an owned (strong) reference unless the name of
// the function that produced it says borrowed. Every Python API call made from Go happens on
// a thread that holds the GIL: entry points are called from Python with the GIL held and keep
// it, except around long pure-Go work, which runs between Unblock's release and re-acquire
// and must not touch Python objects. A reference that must be dropped where the GIL may not be
// held goes through Release, which applies the decref at once when the calling thread holds
// the GIL and otherwise queues it; Drain applies the queue and runs at every entry (Enter) and
// right after every GIL re-acquire, so a released value is freed at the latest by the end of
// the entry point that released it, never when Go's garbage collector runs.
//
// Panics. Every entry point defers Recover, which turns a Go panic into theus.InternalError.
// Nil dereferences are not relied on: when faulthandler owns SIGSEGV they are fatal.
//
// Lock order. Go code never holds a Go mutex while calling into Python (a decref can run
// arbitrary __del__ code that re-enters theus); the pending queue's mutex guards only the
// slice swap.
package py
