package kernel

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a State.
type Options[V any] struct {
	// Release is called exactly once for every leaf value and every memo
	// that no live version can reach any more. It is called without any
	// kernel lock held, so it may run arbitrary code and re-enter the State.
	// If it panics, the panic reaches the caller of the method that released
	// the value, after the State is consistent and the other values of that
	// batch were released.
	Release func(V)
	// Carry, when set, may turn the memo of a branch replaced by path copying into the memo
	// of its copy, instead of releasing it: the memo of the old branch (owned by the State,
	// reachable by no live version any more), the copy (a branch of a published version, or
	// of one already released) and the names of the children that the copy put, replaced or
	// removed, in the order it did (a name may repeat), and whether the memo was read
	// (MemoRead) since it was stored. Carry returns true when it took the
	// memo (it stored it on the copy with SetMemo, or released it itself) and false when the
	// State is to release it as usual. When the copy's own memo slot was already released
	// (MemoReleased), the copy's children may be released too and Carry must not read
	// them. It runs where Release runs, without any kernel lock,
	// children before their parents, so a child's carried memo is on its copy when the
	// parent's is carried.
	Carry func(memo V, copy *Node[V], changed []string, read bool) bool
	// Strict rejects a commit if any commit happened after its start version.
	Strict bool
	// KeepVersions keeps the N versions before the head whole, for At and
	// Diff. With 0 an old version lives only while a Snapshot of it is held.
	KeepVersions int
	// HistorySize bounds the commit metadata ring; 0 means 1000.
	HistorySize int
}

// Record describes one commit in the history.
type Record struct {
	Version Version
	Author  string
	Paths   []string // written and deleted paths, sorted
	Time    time.Time
}

// entry is a history record as kept in the ring: the paths stay parsed until History asks
// for them, so a commit does not pay for joining and sorting strings.
type entry struct {
	version Version
	author  string
	paths   []Path // the commit's write paths, already sorted
	one     Path   // the only path, instead of paths, of a commit that wrote one
	time    time.Time
}

func (e entry) record() Record {
	if e.one != nil {
		return Record{Version: e.version, Author: e.author, Paths: []string{e.one.String()}, Time: e.time}
	}
	paths := make([]string, len(e.paths))
	for i, p := range e.paths {
		paths[i] = p.String()
	}
	return Record{Version: e.version, Author: e.author, Paths: paths, Time: e.time}
}

// Stats counts the bookkeeping of a State, for tests and leak checks.
type Stats struct {
	Version          Version // head version
	Snapshots        int     // live Snapshots
	PinnedVersions   int     // distinct versions held by live Snapshots
	RetainedVersions int     // versions kept whole by KeepVersions
	Pending          int     // retired items not yet released
	Released         uint64  // values and memos released so far
	History          int     // records in the history ring
}

// State is a versioned persistent tree with optimistic commits. All methods
// are safe for concurrent use.
type State[V any] struct {
	opts     Options[V]
	head     atomic.Pointer[record[V]]
	closed   atomic.Bool
	released atomic.Uint64 // values and memos released
	dead     *memoBox[V]   // marks released memo slots
	spare    atomic.Pointer[itemBuf[V]]

	mu        sync.Mutex // guards everything below; never held while calling Release
	kept      []*record[V]
	pinned    []*record[V] // versions with live Snapshots, ascending
	snapshots int
	window    []batch[V]               // retired items still inside the KeepVersions window
	held      map[Version][]retired[V] // retired items held by the Snapshot pin at that version
	pending   int
	history   []entry
	histNext  int
}

// record is one published version.
type record[V any] struct {
	version  Version
	root     *Node[V]
	appended uint64 // appends committed up to this version (the append sequence)
	pins     int    // live Snapshots of this version; guarded by State.mu
}

// retired is a leaf value or a branch memo that became unreachable from the
// head at version died; versions [born, died) may still reach it. A branch
// that held a memo when a commit path-copied it names its copy and the
// children the copy changed, in order (carry), for Options.Carry.
type retired[V any] struct {
	born, died Version
	node       *Node[V]
	carry      *carried[V] // nil unless node held a memo when a commit path-copied it
}

// carried names the path copy of a retired branch and the children the copy
// changed, for Options.Carry.
type carried[V any] struct {
	succ    *Node[V]
	changed []string
}

// itemBuf is a retired-items buffer that a commit hands to the next one
// once it released its items, so a commit does not allocate one.
type itemBuf[V any] struct{ items []retired[V] }

// maxSpare bounds the buffer kept for the next commit.
const maxSpare = 512

// spareItems returns a buffer for the retired items of a commit of writes
// writes: the one the previous commit left, or a new one.
func (s *State[V]) spareItems(writes int) *itemBuf[V] {
	if b := s.spare.Swap(nil); b != nil {
		return b
	}
	return &itemBuf[V]{items: make([]retired[V], 0, 2+3*writes)}
}

// keepItems offers buf, now holding a commit's released items, to the
// next commit, unless the KeepVersions window may still hold the items.
func (s *State[V]) keepItems(buf *itemBuf[V], items []retired[V]) {
	if s.opts.KeepVersions > 0 || cap(items) > maxSpare {
		return
	}
	clear(items[:cap(items)])
	buf.items = items[:0]
	s.spare.Store(buf)
}

// batch is the retired items of one commit.
type batch[V any] struct {
	died  Version
	items []retired[V]
}

// New returns a State at version 0 holding root, which must be a branch of
// new nodes (a nil root is an empty tree). The State owns root's values
// from then on; on error the caller keeps them.
func New[V any](root *Node[V], opts Options[V]) (*State[V], error) {
	if root == nil {
		root = emptyBranch[V](0)
	} else {
		if root.IsLeaf() {
			return nil, &PathError{Code: CodeNotABranch, Msg: "root must be a branch"}
		}
		if adopted, err := adopt(root, nil, nil); err != nil {
			disown(adopted)
			return nil, err
		}
	}
	if opts.HistorySize <= 0 {
		opts.HistorySize = 1000
	}
	if opts.KeepVersions < 0 {
		opts.KeepVersions = 0
	}
	s := &State[V]{opts: opts, held: map[Version][]retired[V]{}, dead: &memoBox[V]{dead: true}}
	s.head.Store(&record[V]{root: root})
	return s, nil
}

// Version returns the head version.
func (s *State[V]) Version() Version { return s.head.Load().version }

// Snapshot pins the head version and returns it. Release it when done.
// After Close it returns a snapshot of the last head whose values are
// already released.
func (s *State[V]) Snapshot() *Snapshot[V] {
	s.mu.Lock()
	r := s.head.Load()
	if !s.closed.Load() {
		s.pin(r)
	}
	s.mu.Unlock()
	return &Snapshot[V]{s: s, rec: r}
}

// At returns a pinned snapshot of version v: the head, the version of a
// live Snapshot, or one of the KeepVersions versions before the head. It
// returns a *VersionError for any other version.
func (s *State[V]) At(v Version) (*Snapshot[V], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, &ClosedError{}
	}
	h := s.head.Load()
	var r *record[V]
	switch {
	case v > h.version:
		return nil, &VersionError{Requested: v, Current: h.version, Code: CodeFuture, Msg: "is in the future"}
	case v == h.version:
		r = h
	case h.version-v <= uint64(len(s.kept)):
		r = s.kept[len(s.kept)-int(h.version-v)]
	default:
		i := sort.Search(len(s.pinned), func(i int) bool { return s.pinned[i].version >= v })
		if i == len(s.pinned) || s.pinned[i].version != v {
			return nil, &VersionError{Requested: v, Current: h.version, Code: CodeNotRetained, Msg: "is not retained (raise Options.KeepVersions, or hold a Snapshot of it)"}
		}
		r = s.pinned[i]
	}
	s.pin(r)
	return &Snapshot[V]{s: s, rec: r}, nil
}

// History returns the commit records, oldest first.
func (s *State[V]) History() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.history
	if len(ring) == s.opts.HistorySize {
		ring = append(append([]entry(nil), ring[s.histNext:]...), ring[:s.histNext]...)
	}
	out := make([]Record, len(ring))
	for i, e := range ring {
		out[i] = e.record()
	}
	return out
}

// Stats returns the current bookkeeping counters.
func (s *State[V]) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Version:          s.head.Load().version,
		Snapshots:        s.snapshots,
		PinnedVersions:   len(s.pinned),
		RetainedVersions: len(s.kept),
		Pending:          s.pending,
		Released:         s.released.Load(),
		History:          len(s.history),
	}
}

// Close releases every value the State still owns: the head, the kept
// versions, the versions of live Snapshots and their memos. Afterwards
// Commit and At return *ClosedError and Snapshot.Release does nothing.
func (s *State[V]) Close() {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return
	}
	var out []retired[V]
	for _, b := range s.window {
		out = append(out, b.items...)
	}
	for _, items := range s.held {
		out = append(out, items...)
	}
	h := s.head.Load()
	out = collectTree(h.root, h.version+1, out)
	s.window, s.held, s.kept, s.pinned = nil, nil, nil, nil
	s.pending = 0
	s.snapshots = 0
	s.mu.Unlock()
	s.release(out)
}

// pin adds a Snapshot of r. Called with s.mu held.
func (s *State[V]) pin(r *record[V]) {
	s.snapshots++
	r.pins++
	if r.pins > 1 {
		return
	}
	n := len(s.pinned)
	if n == 0 || s.pinned[n-1].version < r.version {
		s.pinned = append(s.pinned, r)
		return
	}
	i := sort.Search(n, func(i int) bool { return s.pinned[i].version >= r.version })
	s.pinned = append(s.pinned, nil)
	copy(s.pinned[i+1:], s.pinned[i:])
	s.pinned[i] = r
}

// unpin drops a Snapshot of r and appends what became releasable to out.
// Called with s.mu held.
func (s *State[V]) unpin(r *record[V], out []retired[V]) []retired[V] {
	s.snapshots--
	r.pins--
	if r.pins > 0 {
		return out
	}
	i := sort.Search(len(s.pinned), func(i int) bool { return s.pinned[i].version >= r.version })
	s.pinned = append(s.pinned[:i], s.pinned[i+1:]...)
	items, ok := s.held[r.version]
	if !ok {
		return out
	}
	delete(s.held, r.version)
	s.pending -= len(items)
	for _, it := range items {
		out = s.settle(it, out)
	}
	return out
}

// settle releases it (appending it to out) unless a live Snapshot's version
// lies in [born, died), in which case the oldest such Snapshot holds it.
// Called with s.mu held, for items outside the KeepVersions window.
func (s *State[V]) settle(it retired[V], out []retired[V]) []retired[V] {
	if len(s.pinned) > 0 {
		i := sort.Search(len(s.pinned), func(i int) bool { return s.pinned[i].version >= it.born })
		if i < len(s.pinned) && s.pinned[i].version < it.died {
			v := s.pinned[i].version
			s.held[v] = append(s.held[v], it)
			s.pending++
			return out
		}
	}
	return append(out, it)
}

// publish accounts for commit prev -> next with its retired items and
// returns what can be released now. Called with s.mu held.
func (s *State[V]) publish(prev, next *record[V], items []retired[V], rec entry) []retired[V] {
	s.history = appendRing(s.history, &s.histNext, s.opts.HistorySize, rec)
	k := s.opts.KeepVersions
	if k > 0 {
		s.kept = append(s.kept, prev)
		if len(s.kept) > k {
			s.kept[0] = nil
			s.kept = s.kept[1:]
		}
		if len(items) > 0 {
			s.window = append(s.window, batch[V]{died: next.version, items: items})
			s.pending += len(items)
		}
		var out []retired[V]
		for len(s.window) > 0 && s.window[0].died+uint64(k) <= next.version {
			b := s.window[0]
			s.window[0] = batch[V]{}
			s.window = s.window[1:]
			s.pending -= len(b.items)
			for _, it := range b.items {
				out = s.settle(it, out)
			}
		}
		return out
	}
	if len(s.pinned) == 0 {
		return items
	}
	out := items[:0]
	for _, it := range items {
		out = s.settle(it, out)
	}
	return out
}

// release runs the Release callback for items; never called with s.mu held.
// If the callback panics, the remaining items are still released before
// the panic continues.
func (s *State[V]) release(items []retired[V]) {
	if s.opts.Carry != nil {
		s.carry(items, nil, false)
	}
	fn := s.opts.Release
	i := 0
	defer func() {
		if i < len(items) {
			s.release(items[i+1:])
		}
	}()
	for ; i < len(items); i++ {
		n := items[i].node
		if n.IsLeaf() {
			s.released.Add(1)
			if fn != nil {
				fn(n.value)
			}
			continue
		}
		if m, ok := n.takeMemo(s.dead); ok {
			s.released.Add(1)
			if fn != nil {
				fn(m)
			}
		}
	}
}

// collect is release for a caller that drops the values itself: it appends every value
// release would pass to Options.Release to sink, in the same order, and returns it.
func (s *State[V]) collect(items []retired[V], sink []V) []V {
	if s.opts.Carry != nil {
		sink = s.carry(items, sink, true)
	}
	for i := range items {
		n := items[i].node
		if n.IsLeaf() {
			s.released.Add(1)
			sink = append(sink, n.value)
			continue
		}
		if m, ok := n.takeMemo(s.dead); ok {
			s.released.Add(1)
			sink = append(sink, m)
		}
	}
	return sink
}

// carry offers the memos of the path-copied branches among items to
// Options.Carry, deepest first (items list a commit's copies parents first).
// A memo Carry takes, or releases after Carry refused it, leaves the old
// node's slot dead, so the pass in release skips it. A refused memo is released, or with
// collect appended to sink, which carry returns.
func (s *State[V]) carry(items []retired[V], sink []V, collect bool) []V {
	for i := len(items) - 1; i >= 0; i-- {
		it := &items[i]
		if it.carry == nil {
			continue
		}
		m, ok, read := it.node.takeMemoRead(s.dead)
		if !ok {
			continue
		}
		s.released.Add(1) // the old node's memo is gone from it either way
		switch {
		case s.opts.Carry(m, it.carry.succ, it.carry.changed, read):
		case collect:
			sink = append(sink, m)
		case s.opts.Release != nil:
			s.opts.Release(m)
		}
	}
	return sink
}

// appendRing appends r to a ring of at most size entries.
func appendRing(ring []entry, next *int, size int, r entry) []entry {
	if len(ring) < size {
		return append(ring, r)
	}
	ring[*next] = r
	*next = (*next + 1) % size
	return ring
}

// collectTree appends every leaf and branch of the tree at n, as retired at
// version died, to out. It uses out itself as its work list, so a deep tree
// costs no Go stack.
func collectTree[V any](n *Node[V], died Version, out []retired[V]) []retired[V] {
	i := len(out)
	out = append(out, retired[V]{born: n.version, died: died, node: n})
	for ; i < len(out); i++ {
		n := out[i].node
		if n.br == nil {
			continue
		}
		n.br.eachChild(func(c *Node[V]) {
			out = append(out, retired[V]{born: c.version, died: died, node: c})
		})
	}
	return out
}

// Snapshot is a pinned, immutable version of a State. Its values stay
// alive until Release.
type Snapshot[V any] struct {
	s    *State[V]
	rec  *record[V]
	done atomic.Bool
}

// Version returns the snapshot's version.
func (sn *Snapshot[V]) Version() Version { return sn.rec.version }

// Root returns the root branch of the snapshot.
// It returns nil after the State was closed (its values are released then).
func (sn *Snapshot[V]) Root() *Node[V] {
	if sn.s.closed.Load() {
		return nil
	}
	return sn.rec.root
}

// Lookup returns the node at p in the snapshot (see Node.Lookup). It
// returns *ClosedError after the State was closed.
func (sn *Snapshot[V]) Lookup(p Path) (*Node[V], error) {
	if sn.s.closed.Load() {
		return nil, &ClosedError{}
	}
	return sn.rec.root.Lookup(p)
}

// Release unpins the snapshot; values only it kept alive are released
// before it returns. Release is idempotent.
func (sn *Snapshot[V]) Release() {
	if out := sn.unpin(); len(out) > 0 {
		sn.s.release(out)
	}
}

// ReleaseCollect is Release for a caller that drops the values itself, after it is done
// with the ones it read: the values the unpin releases are appended to sink, which is
// returned (see State.CommitCollect).
func (sn *Snapshot[V]) ReleaseCollect(sink []V) []V {
	if out := sn.unpin(); len(out) > 0 {
		sink = sn.s.collect(out, sink)
	}
	return sink
}

// unpin drops the snapshot's pin once and returns what that retires.
func (sn *Snapshot[V]) unpin() []retired[V] {
	if sn.done.Swap(true) {
		return nil
	}
	s := sn.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil
	}
	return s.unpin(sn.rec, nil)
}
