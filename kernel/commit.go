package kernel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Write sets the subtree at Path to Node, or deletes Path when Node is nil.
// Node must be new (built with Leaf or Branch, never committed).
type Write[V any] struct {
	Path Path
	Node *Node[V]
}

// Commit is one atomic change to a State.
type Commit[V any] struct {
	Start  Version    // the version the writer read
	Writes []Write[V] // applied together; no path may be a prefix of another
	Reads  []Path     // declared inputs, conflict-checked like writes
	Author string     // recorded in the history
	Strict bool       // reject if any commit happened after Start (ORed with Options.Strict)
	// Appends are new nodes added as children of the branch AppendUnder
	// (created when missing), in order, under keys the commit names itself
	// from the State's append sequence (see AppendKey). Appends are never
	// conflict-checked: their keys are new by construction, so two commits
	// that only append never conflict, and key order is commit order. No
	// write may be AppendUnder or above it.
	Appends     []*Node[V]
	AppendUnder Path
}

// AppendKey is the key of the append with sequence number seq, committed
// at version v: seq zero-padded to 20 digits (every uint64 fits), "_", v.
// The sequence counts the appends of a State from 1 and is assigned inside
// the compare-and-swap, so string order of the keys under a branch is the
// order in which their commits won, and within a commit the order of
// Commit.Appends, for any number of appends.
func AppendKey(seq uint64, v Version) string {
	return fmt.Sprintf("%020d_%d", seq, v)
}

// ParseAppendKey returns the sequence number and version of an AppendKey;
// ok is false for any other string.
func ParseAppendKey(key string) (seq uint64, v Version, ok bool) {
	if len(key) < 22 || key[20] != '_' {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(key[:20], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	v, err = strconv.ParseUint(key[21:], 10, 64)
	if err != nil || AppendKey(seq, v) != key {
		return 0, 0, false
	}
	return seq, v, true
}

// Commit applies req atomically and returns the new version, head + 1.
//
// It fails without changing anything with a *VersionError when Start is in
// the future, a *PathError for an invalid write set or a write that does not
// fit the tree, a *ConflictError when a declared path changed after Start,
// or a *ClosedError. On success the State owns the written values; on any
// error the caller keeps them.
func (s *State[V]) Commit(req Commit[V]) (Version, error) {
	v, _, err := s.commit(req, nil, false)
	return v, err
}

// CommitCollect is Commit for a caller that releases the values the commit releases itself,
// all at once after it returns: instead of passing them to Options.Release, it appends them
// to sink (in the order Release would see them) and returns it. Options.Carry still runs.
func (s *State[V]) CommitCollect(req Commit[V], sink []V) (Version, []V, error) {
	return s.commit(req, sink, true)
}

// commit is Commit, releasing into sink when collect is set.
func (s *State[V]) commit(req Commit[V], sink []V, collect bool) (Version, []V, error) {
	if s.closed.Load() {
		return 0, sink, &ClosedError{}
	}
	writes, err := sortWrites(req.Writes)
	if err != nil {
		return 0, sink, err
	}
	for _, p := range req.Reads {
		if err := p.check(); err != nil {
			return 0, sink, err
		}
	}
	if err := checkAppends(req, writes); err != nil {
		return 0, sink, err
	}
	var buf [8]*Node[V]
	adopted := buf[:0]
	for _, w := range writes {
		if w.Node != nil {
			if adopted, err = adopt(w.Node, w.Path, adopted); err != nil {
				disown(adopted)
				return 0, sink, err
			}
		}
	}
	for i, n := range req.Appends {
		if adopted, err = adopt(n, append(slices.Clip(req.AppendUnder), "<append "+strconv.Itoa(i)+">"), adopted); err != nil {
			disown(adopted)
			return 0, sink, err
		}
	}
	strict := req.Strict || s.opts.Strict
	spare := s.spareItems(len(writes))
	for {
		base := s.head.Load()
		if req.Start > base.version {
			disown(adopted)
			return 0, sink, &VersionError{Requested: req.Start, Current: base.version, Code: CodeFuture, Msg: "is in the future (a writer cannot have read it)"}
		}
		if err := conflicts(base, req, strict); err != nil {
			disown(adopted)
			return 0, sink, err
		}
		v := base.version + 1
		for _, n := range adopted {
			n.stamp(v)
		}
		var cs copies[V]
		root, items, err := build(base.root, writes, v, spare.items[:0], &cs)
		if err != nil {
			disown(adopted)
			return 0, sink, err
		}
		rec := entry{version: v, author: req.Author, time: time.Now()}
		if len(writes) == 1 && len(req.Appends) == 0 {
			rec.one = writes[0].Path
		} else {
			rec.paths = writePaths(writes)
		}
		if len(req.Appends) > 0 {
			var added []Path
			if items, added, err = appendAll(root, req.AppendUnder, req.Appends, base.appended+1, v, items, &cs); err != nil {
				disown(adopted)
				return 0, sink, err
			}
			rec.paths = mergePaths(rec.paths, added)
		}
		next := &record[V]{version: v, root: root, appended: base.appended + uint64(len(req.Appends))}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			disown(adopted)
			return 0, sink, &ClosedError{}
		}
		if !s.head.CompareAndSwap(base, next) {
			s.mu.Unlock()
			continue
		}
		out := s.publish(base, next, items, rec)
		s.mu.Unlock()
		if collect {
			sink = s.collect(out, sink)
		} else {
			s.release(out)
		}
		s.keepItems(spare, items)
		return v, sink, nil
	}
}

// sortWrites validates the write paths and returns the writes sorted by
// path; it rejects empty or malformed paths and overlapping writes.
func sortWrites[V any](ws []Write[V]) ([]Write[V], error) {
	for _, w := range ws {
		if err := w.Path.check(); err != nil {
			return nil, err
		}
	}
	if len(ws) < 2 {
		return ws, nil
	}
	sorted := slices.Clone(ws)
	if under := len(ws[0].Path) - 1; siblings(ws, under) {
		// The common case of many writes: leaves of one branch, ordered by name alone.
		slices.SortFunc(sorted, func(a, b Write[V]) int { return strings.Compare(a.Path[under], b.Path[under]) })
	} else {
		slices.SortFunc(sorted, func(a, b Write[V]) int { return comparePaths(a.Path, b.Path) })
	}
	for i := 1; i < len(sorted); i++ {
		// Sorted segment-wise, a path that has a prefix among the other
		// write paths has one directly before it.
		if sorted[i].Path.hasPrefix(sorted[i-1].Path) {
			return nil, &PathError{Path: sorted[i].Path.String(), Code: CodeOverlap, Msg: "overlaps the write to " + sorted[i-1].Path.String()}
		}
	}
	return sorted, nil
}

// siblings reports whether every write's path has the length under+1 and
// the first under segments of the first one: children of one branch.
func siblings[V any](ws []Write[V], under int) bool {
	first := ws[0].Path[:under]
	for _, w := range ws[1:] {
		if len(w.Path) != under+1 || !w.Path[:under].hasPrefix(first) {
			return false
		}
	}
	return true
}

// checkAppends validates the append part of req against its sorted writes:
// no nil node, a well-formed AppendUnder, and no write at or above it (that
// write would replace or delete the branch the appends go into).
func checkAppends[V any](req Commit[V], writes []Write[V]) error {
	if len(req.Appends) == 0 {
		return nil
	}
	if err := req.AppendUnder.check(); err != nil {
		return err
	}
	for i, n := range req.Appends {
		if n == nil {
			return &PathError{Path: req.AppendUnder.String(), Code: CodeMalformed, Msg: "append " + strconv.Itoa(i) + " is nil (an append adds a node, it cannot delete)"}
		}
	}
	for _, w := range writes {
		if req.AppendUnder.hasPrefix(w.Path) {
			return &PathError{Path: w.Path.String(), Code: CodeOverlap, Msg: "overlaps the appends under " + req.AppendUnder.String()}
		}
	}
	return nil
}

// appendAll adds nodes under the branch at under in the unpublished root
// built for version v, named AppendKey(first+i, v), creating missing
// branches on the way and path-copying the shared ones (whose retired memos
// it appends to items). It returns items and the appended paths in order.
func appendAll[V any](root *Node[V], under Path, nodes []*Node[V], first uint64, v Version, items []retired[V], cs *copies[V]) ([]retired[V], []Path, error) {
	parent := root
	for i, seg := range under {
		ref := parent.ref(seg)
		if ref == nil {
			nb := emptyBranch[V](v)
			parent.add(seg, nb)
			cs.touch(items, parent, seg)
			parent = nb
			continue
		}
		n := *ref
		if n.br == nil {
			return nil, nil, &PathError{Path: under[:i+1].String(), Code: CodeNotABranch, Msg: "is a leaf, so nothing can be appended under " + under.String()}
		}
		if n.version != v {
			items, n = cs.copy(items, n, v)
			*ref = n
			cs.touch(items, parent, seg)
		}
		parent = n
	}
	added := make([]Path, len(nodes))
	for i, n := range nodes {
		key := AppendKey(first+uint64(i), v)
		if parent.br.child(key) != nil {
			return nil, nil, &PathError{Path: under.String() + "." + key, Code: CodeOverlap, Msg: "already exists (a write took a key of the append sequence)"}
		}
		parent.add(key, n)
		cs.touch(items, parent, key)
		p := make(Path, len(under)+1)
		copy(p, under)
		p[len(under)] = key
		added[i] = p
	}
	return items, added, nil
}

// mergePaths merges two sorted path lists into one sorted list.
func mergePaths(a, b []Path) []Path {
	if len(a) == 0 {
		return b
	}
	out := make([]Path, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if comparePaths(a[i], b[j]) <= 0 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// writePaths returns the write paths; sortWrites has already ordered them.
func writePaths[V any](ws []Write[V]) []Path {
	out := make([]Path, len(ws))
	for i, w := range ws {
		out[i] = w.Path
	}
	return out
}

// adopt marks the new subtree at n, to be placed at path at, as owned by a
// State and returns adopted with the nodes it marked appended. It fails
// with a *PathError when a node already belongs to a State or occurs twice,
// and with a *KeyError when a child name could not be addressed by a path.
// It walks the tree with an explicit stack and builds a path string only
// for an error, so deep trees cost time linear in their size and no Go
// stack.
func adopt[V any](n *Node[V], at Path, adopted []*Node[V]) ([]*Node[V], error) {
	if n.owned {
		return adopted, reused(at)
	}
	n.owned = true
	adopted = append(adopted, n)
	if n.br == nil {
		return adopted, nil
	}
	type frame struct {
		n    *Node[V]
		next int // the child to visit next, by position in insertion order
	}
	segs := slices.Clone(at) // the path of the branch on top of the stack
	stack := []frame{{n, 0}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		name, c, ok := top.n.br.at(top.next)
		if !ok {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		}
		top.next++
		if c == nil { // a removed key of a big branch
			continue
		}
		if err := checkKey(segs, name); err != nil {
			return adopted, err
		}
		if c.owned {
			return adopted, reused(append(segs, name))
		}
		c.owned = true
		adopted = append(adopted, c)
		if c.br != nil {
			segs = append(segs, name)
			stack = append(stack, frame{c, 0})
		}
	}
	return adopted, nil
}

func reused(at Path) error {
	return &PathError{Path: at.String(), Code: CodeReused, Msg: "node already belongs to a state (build a new node with Leaf or Branch)"}
}

// checkKey reports a *KeyError when name, a child of the branch at path in,
// cannot be a path segment: paths are dotted, so "" and names containing
// "." could never be addressed.
func checkKey(in Path, name string) error {
	switch {
	case name == "":
		return &KeyError{Path: in.String(), Key: name, Msg: "is empty"}
	case strings.IndexByte(name, '.') >= 0:
		return &KeyError{Path: in.String(), Key: name, Msg: "contains \".\""}
	}
	return nil
}

// disown undoes adopt after a failed commit.
func disown[V any](adopted []*Node[V]) {
	for _, n := range adopted {
		n.owned = false
		n.stamp(0)
	}
}

// stamp sets the version of an adopted node, and its born version.
func (n *Node[V]) stamp(v Version) {
	n.version = v
	if n.br != nil {
		n.br.born = v
	}
}

// conflicts checks req's declared paths against the head base.
func conflicts[V any](base *record[V], req Commit[V], strict bool) error {
	if base.version == req.Start {
		return nil
	}
	var changed []string
	check := func(p Path) {
		if changedSince(base.root, p, req.Start) {
			changed = append(changed, p.String())
		}
	}
	for _, w := range req.Writes {
		check(w.Path)
	}
	for _, p := range req.Reads {
		check(p)
	}
	if len(changed) == 0 && !strict {
		return nil
	}
	slices.Sort(changed)
	return &ConflictError{Expected: req.Start, Actual: base.version, Paths: slices.Compact(changed)}
}

// changedSince reports whether the path p may have changed in root after
// version start. An existing path changed when its node is newer than start
// (something at or below it was written). A missing path changed when it
// might have existed at some version after start: its deepest existing
// ancestor was created or replaced after start (born), is a leaf newer than
// start, or is a branch whose child on p was removed after start. So a new
// key never conflicts with the insertion or removal of its siblings.
func changedSince[V any](root *Node[V], p Path, start Version) bool {
	cur := root
	for _, seg := range p {
		if cur.br == nil { // p runs through a leaf
			return cur.version > start
		}
		c := cur.br.child(seg)
		if c == nil {
			return cur.br.born > start || cur.br.gone.removedAfter(seg, start)
		}
		cur = c
	}
	return cur.version > start
}

// build applies the sorted writes to a path copy of root, stamping every
// new node with version v, and returns the new root with the leaf values and
// branch memos that become unreachable at v, appended to items. Every branch
// it copies or creates is unpublished until the commit is, so the writes
// below one branch change that one copy in place.
func build[V any](root *Node[V], writes []Write[V], v Version, items []retired[V], cs *copies[V]) (*Node[V], []retired[V], error) {
	items, newRoot := cs.copy(items, root, v)
	for _, w := range writes {
		parent := newRoot
		last := len(w.Path) - 1
		for i, seg := range w.Path[:last] {
			ref := parent.ref(seg)
			if ref == nil {
				if w.Node == nil {
					return nil, nil, &PathError{Path: w.Path[:i+1].String(), Code: CodeNotFound, Msg: "not found, cannot delete " + w.Path.String()}
				}
				nb := emptyBranch[V](v)
				parent.add(seg, nb)
				cs.touch(items, parent, seg)
				parent = nb
				continue
			}
			n := *ref
			if n.br == nil {
				return nil, nil, &PathError{Path: w.Path[:i+1].String(), Code: CodeNotABranch, Msg: "is a leaf, so " + w.Path.String() + " cannot be written"}
			}
			if n.version != v {
				items, n = cs.copy(items, n, v)
				*ref = n
				cs.touch(items, parent, seg)
			}
			parent = n
		}
		name := w.Path[last]
		ref := parent.ref(name)
		if ref != nil {
			items = collectTree(*ref, v, items)
		}
		switch {
		case w.Node == nil && ref == nil:
			return nil, nil, &PathError{Path: w.Path.String(), Code: CodeNotFound, Msg: "not found, cannot delete it"}
		case w.Node == nil:
			parent.remove(name)
		case ref != nil:
			*ref = w.Node
		default:
			parent.add(name, w.Node)
		}
		cs.touch(items, parent, name)
	}
	return newRoot, items, nil
}

// copies remembers, for one commit's build, the branches it path-copied from
// a branch that held a memo and where their retired items are, so that each
// change to such a copy is recorded on the item (for Options.Carry). A commit
// copies a handful of branches, so a list beats a map.
type copies[V any] struct {
	nodes []*Node[V]
	at    []int
}

// copy path-copies branch n for version v, appends n's retired item to
// items and returns items and the copy.
func (cs *copies[V]) copy(items []retired[V], n *Node[V], v Version) ([]retired[V], *Node[V]) {
	c := n.copyBranch(v)
	it := retired[V]{born: n.version, died: v, node: n}
	if n.hasMemo() {
		it.carry = &carried[V]{succ: c}
		cs.nodes = append(cs.nodes, c)
		cs.at = append(cs.at, len(items))
	}
	return append(items, it), c
}

// touch records that the copy parent changed its child name, when parent is
// a copy whose predecessor held a memo.
func (cs *copies[V]) touch(items []retired[V], parent *Node[V], name string) {
	for i := len(cs.nodes) - 1; i >= 0; i-- {
		if cs.nodes[i] == parent {
			c := items[cs.at[i]].carry
			if k := len(c.changed); k == 0 || c.changed[k-1] != name {
				c.changed = append(c.changed, name)
			}
			return
		}
	}
}
