// Package kernel is the versioned state tree at the core of theus: a
// persistent tree of zones and dotted paths, pinned snapshots, optimistic
// commits with conflict detection, commit history and deterministic release
// of stored values. It is pure Go and generic over the stored value type V;
// in production V is an owned reference to a Python object, in tests any Go
// value.
//
// # Tree
//
// The state is a tree of Nodes. A leaf holds one V and its version, and
// nothing else (32 bytes for a pointer-sized V): a State of a million
// small leaves is mostly leaves. A branch holds named children in
// insertion order, as Python dicts do: a new key goes last, a replaced key
// keeps its place, a removed and re-added key goes last, and Range walks
// that order. Up to 32 children sit in a slice allocated with the branch,
// searched linearly; a path copy is one allocation. A bigger branch keeps
// a hash array mapped trie (CHAMP layout, entries inline in 32-wide nodes)
// from name to child and insertion sequence number, plus a persistent
// vector of names by sequence number, so committing one key into a zone of
// 100,000 keys copies a handful of small nodes instead of the zone. Removed
// keys leave holes in the vector until they outnumber the keys, when the
// branch is renumbered; a big branch that shrinks to 16 children goes back
// to a slice.
//
// Every trie node records the version of the commit that created it.
// While a commit builds its new version, nothing it created is published,
// so the many writes of one commit under one branch change that commit's
// own copies in place and copy only nodes of published versions (the
// builder mode of persistent collections, keyed by version).
//
// # Versions on nodes
//
// Every commit makes exactly one new version, previous head + 1. Every node
// carries the version that created it, and a node is created whenever it or
// anything below it changes: a commit copies the ancestors of each written
// path (path copying) and stamps the copies and the written nodes with the
// new version, sharing every other subtree with the previous version. So a
// node's version is the last version that changed anything below it, which
// makes a conflict check a walk down the declared paths, and shared subtrees
// let a diff walk only the changed paths (scanning the branches on them).
//
// # Commit protocol
//
// A commit is validated (paths, overlaps, start version), checked for
// conflicts against the current head and built as a path copy of that head,
// all without a lock. It is then published with a compare-and-swap of the
// atomic head pointer, inside a short critical section that also does the
// release accounting so that versions are accounted in order. If the head
// moved meanwhile the swap fails and the commit is checked and built again
// against the new head, so a concurrent commit to other paths never makes it
// fail; exactly one commit wins each version.
//
// # Conflict rule
//
// A commit declares paths: the paths it writes and the paths it read. A
// declared path that exists in the head conflicts when its node is newer
// than the commit's start version (something at or below it was written).
// A declared path that is missing from the head conflicts only when it might
// have existed at some version after the start: its deepest existing
// ancestor was created or replaced after the start (every node keeps the
// version that put it at its place, its born version, through path copies),
// is a leaf newer than the start, or is a branch whose child on the path was
// removed after the start. For the last case each branch remembers when its
// missing children were removed: the newest 256 removals, and below that a
// floor version; a start older than the floor counts as changed. So
// replacing or deleting a parent conflicts with everything below it, a
// change below a read branch conflicts with the branch, and new keys never
// conflict with the insertion or removal of their siblings. A strict commit
// conflicts on any newer head. Version 0 is not special.
//
// # Appends
//
// A commit may also append nodes under one branch (Commit.Appends and
// AppendUnder), for queues such as theus's outbox. The commit does not name
// them: inside the compare-and-swap loop, once the new version v is known,
// it takes the next numbers of the State's append sequence (a counter kept
// on each published version, so a lost swap simply renumbers) and names
// each append AppendKey(seq, v). Keys are therefore new by construction and
// appends are never conflict-checked: any number of writers can append to
// the same branch concurrently without conflicting, and the string order of
// the keys is the order in which the commits won, for any count (the
// sequence is zero-padded to the width of a uint64). A reader that declares
// the branch itself still sees it change, and a strict commit still
// conflicts on any newer head.
//
// # Keys
//
// Paths are dotted, so a child name must be a non-empty string without
// ".": New and Commit refuse a tree holding any other name with a
// *KeyError, and a Path segment containing "." is malformed. An escape
// syntax would have to be understood by every reader of paths (contracts,
// conditions, history, conflicts), and a key only a second path form could
// name could never be declared.
//
// # Cost of depth
//
// Path copying costs one node per level, and every walk over a tree (adopt,
// conflict checks, Diff, release, Close) uses an explicit work list instead
// of recursion and builds dotted strings only for errors and reported
// changes, so a path of 100,000 segments commits in linear time and no Go
// stack.
//
// # Deterministic release
//
// Values may own memory that Go's collector cannot see (Python objects), so
// a value is released as soon as no live version can reach it, never when
// the collector runs. When commit N replaces or deletes a subtree, each leaf
// value and each branch memo in it, and the memo of every ancestor replaced
// by path copying, retires with lifetime [born, N), born being the node's
// version: exactly the versions that can reach it. A retired item is
// released once no pinned version lies in its lifetime. Pinned versions are
// those of live Snapshots (a count per version) and the KeepVersions
// versions before the head; the head itself reaches nothing retired. Without
// old snapshots a replaced value is therefore released inside the Commit
// call. Items inside the KeepVersions window wait in a queue ordered by
// retirement and leave it as the window moves; items held by a Snapshot are
// filed under the oldest pinned version in their lifetime and looked at
// again only when that version is unpinned. Nothing waits on a scan of
// unrelated items, and with no snapshot held the bookkeeping stays empty.
// Written nodes must be new: a node belongs to one place in one State, so
// each value has exactly one owner and is released exactly once.
//
// # Locks
//
// One mutex per State guards the pin counts, the retired queues, the kept
// versions and the history; the head pointer is atomic so Version and the
// commit build read it without the lock. The Release callback is never
// called with the mutex held: releasable items are collected under it and
// released after unlocking, so Release may re-enter the State. There is no
// other lock, hence no lock order to get wrong.
package kernel
