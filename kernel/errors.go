package kernel

import (
	"fmt"
	"strings"
)

// Stable PathError codes.
const (
	// CodeEmpty marks an empty path.
	CodeEmpty = "empty"
	// CodeMalformed marks a path with an empty segment.
	CodeMalformed = "malformed"
	// CodeNotFound marks a path that does not exist.
	CodeNotFound = "not_found"
	// CodeNotABranch marks a path that goes through a leaf.
	CodeNotABranch = "not_a_branch"
	// CodeOverlap marks two writes of one commit where one path is a prefix of the other.
	CodeOverlap = "overlap"
	// CodeReused marks a written node that already belongs to a state, or
	// that appears twice in one write set.
	CodeReused = "reused"
)

// PathError reports a problem with one path. Code is one of the Code*
// constants; Path is the dotted path the problem is about.
type PathError struct {
	Path string
	Code string
	Msg  string
}

// Error implements error.
func (e *PathError) Error() string {
	if e.Path == "" {
		return "kernel: " + e.Msg
	}
	return "kernel: " + e.Path + ": " + e.Msg
}

// KeyError reports a branch child whose name no dotted path could address:
// an empty name or one containing ".". Path is the dotted path of the branch
// holding it ("" for a top-level name). Commit and New refuse such trees.
type KeyError struct {
	Path string
	Key  string
	Msg  string
}

// Error implements error.
func (e *KeyError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("kernel: top-level key %q %s (a key must be a non-empty name without \".\")", e.Key, e.Msg)
	}
	return fmt.Sprintf("kernel: %s: key %q %s (a key must be a non-empty name without \".\")", e.Path, e.Key, e.Msg)
}

// ConflictError reports a commit rejected because the state changed after
// the version the writer read. Paths lists the declared paths that changed,
// sorted; it is empty when a strict commit was rejected only because some
// other commit happened.
type ConflictError struct {
	Expected, Actual Version
	Paths            []string
}

// Error implements error.
func (e *ConflictError) Error() string {
	if len(e.Paths) == 0 {
		return fmt.Sprintf("kernel: conflict: expected version %d, actual %d (strict commit rejects any change)", e.Expected, e.Actual)
	}
	return fmt.Sprintf("kernel: conflict: expected version %d, actual %d (changed: %s)", e.Expected, e.Actual, strings.Join(e.Paths, ", "))
}

// Stable VersionError codes.
const (
	// CodeFuture marks a version newer than the head.
	CodeFuture = "future"
	// CodeNotRetained marks an old version that no Snapshot and no
	// KeepVersions window holds any more.
	CodeNotRetained = "not_retained"
)

// VersionError reports a version that is in the future or no longer
// retained. Code is CodeFuture or CodeNotRetained.
type VersionError struct {
	Requested, Current Version
	Code               string
	Msg                string
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("kernel: version %d: %s (current version %d)", e.Requested, e.Msg, e.Current)
}

// ClosedError reports a use of a State after Close.
type ClosedError struct{}

// Error implements error.
func (e *ClosedError) Error() string { return "kernel: state is closed" }
