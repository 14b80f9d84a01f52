// Package flux parses, checks and runs Flux workflows: small YAML programs that sequence
// theus processes with `if`, `while` and `run` blocks.
//
// Parse does all the checking a workflow can get without running it. The YAML is read into
// position-carrying nodes, so every structural problem (unknown or duplicate keys, a missing
// `condition`, a `then` that is not a list, an empty loop body) is an *Error naming the file,
// line and column, with the offending line and a caret. Conditions are expr-lang expressions
// compiled once, here: syntax errors point at the character inside the condition, and a
// condition whose type is known not to be boolean (`1 + 2`) is rejected. While compiling, the
// state paths a condition reads (`domain.counter`, `global["vip"]`) are collected, so that at
// run time only those are fetched. Workflow.Check then matches process names against the
// registered ones.
//
// Workflow.Run is the stepper. Its program counter, loop counters and operation budget live
// in Go; it reaches the outside world only through Host: Host.Run executes a process through
// the engine's commit path, Host.Values reads committed state for a condition, and
// Host.Interrupted lets the caller abort (Ctrl-C). Each process step, condition evaluation
// and loop iteration costs one operation, so an exhausted budget or a loop past its
// max_iterations stops the run even when the loop body does nothing. A process's error is
// wrapped with the step's name and position but kept reachable unchanged through Unwrap.
//
// The package is pure Go: it builds and tests with CGO_ENABLED=0 and knows nothing of
// Python. The language is described in docs/flux.md.
package flux
