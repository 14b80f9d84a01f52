// Package heavy keeps the books of the heavy zone: how many large buffers one state holds by
// reference, and how many bytes they span.
//
// What is taken by reference, locked or copied is decided in C (pyproxy/heavy.c), because
// only CPython can tell who owns an array's memory; releasing a value is the kernel's
// deterministic release. This package only counts, in pure Go: a commit holds the heavy
// values it stores (before the compare-and-swap, so a concurrent release of the same values
// can never make a count go below what is held), gives them back when the commit fails, and
// the kernel's release callback drops each value when no version references it any more. The
// totals are what State.stats() reports as heavy_values and heavy_bytes, and what the tests
// use to prove that replacing a 500 MB array frees the old one.
package heavy
