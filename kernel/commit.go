package kernel

import (
	"slices"
	"strings"
	"time"

	"github.com/benbjohnson/immutable"
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
}

// Commit applies req atomically and returns the new version, head + 1.
//
// It fails without changing anything with a *VersionError when Start is in
// the future, a *PathError for an invalid write set or a write that does not
// fit the tree, a *ConflictError when a declared path changed after Start,
// or a *ClosedError. On success the State owns the written values; on any
// error the caller keeps them.
func (s *State[V]) Commit(req Commit[V]) (Version, error) {
	if s.closed.Load() {
		return 0, &ClosedError{}
	}
	writes, err := sortWrites(req.Writes)
	if err != nil {
		return 0, err
	}
	for _, p := range req.Reads {
		if err := p.check(); err != nil {
			return 0, err
		}
	}
	var adopted []*Node[V]
	for _, w := range writes {
		if w.Node != nil {
			if err := adopt(w.Node, w.Path, &adopted); err != nil {
				disown(adopted)
				return 0, err
			}
		}
	}
	strict := req.Strict || s.opts.Strict
	for {
		base := s.head.Load()
		if req.Start > base.version {
			disown(adopted)
			return 0, &VersionError{Requested: req.Start, Current: base.version, Code: CodeFuture, Msg: "is in the future (a writer cannot have read it)"}
		}
		if err := conflicts(base, req, strict); err != nil {
			disown(adopted)
			return 0, err
		}
		v := base.version + 1
		for _, n := range adopted {
			n.version, n.born = v, v
		}
		root, items, err := build(base.root, writes, v)
		if err != nil {
			disown(adopted)
			return 0, err
		}
		next := &record[V]{version: v, root: root}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			disown(adopted)
			return 0, &ClosedError{}
		}
		if !s.head.CompareAndSwap(base, next) {
			s.mu.Unlock()
			continue
		}
		out := s.publish(base, next, items, entry{version: v, author: req.Author, paths: writePaths(writes), time: time.Now()})
		s.mu.Unlock()
		s.release(out)
		return v, nil
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
	slices.SortFunc(sorted, func(a, b Write[V]) int { return comparePaths(a.Path, b.Path) })
	for i := 1; i < len(sorted); i++ {
		// Sorted segment-wise, a path that has a prefix among the other
		// write paths has one directly before it.
		if sorted[i].Path.hasPrefix(sorted[i-1].Path) {
			return nil, &PathError{Path: sorted[i].Path.String(), Code: CodeOverlap, Msg: "overlaps the write to " + sorted[i-1].Path.String()}
		}
	}
	return sorted, nil
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
// State and records the nodes it marked. It fails with a *PathError when a
// node already belongs to a State or occurs twice, and with a *KeyError when
// a child name could not be addressed by a path. It walks the tree with an
// explicit stack and builds a path string only for an error, so deep trees
// cost time linear in their size and no Go stack.
func adopt[V any](n *Node[V], at Path, adopted *[]*Node[V]) error {
	if n.owned {
		return reused(at)
	}
	n.owned = true
	*adopted = append(*adopted, n)
	if n.kids == nil {
		return nil
	}
	type frame struct {
		n  *Node[V]
		it *immutable.SortedMapIterator[uint64, string]
	}
	segs := slices.Clone(at) // the path of the branch on top of the stack
	stack := []frame{{n, n.order.Iterator()}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.it.Done() {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		}
		_, name, _ := top.it.Next()
		if err := checkKey(segs, name); err != nil {
			return err
		}
		c, _ := top.n.kids.Get(name)
		if c.node.owned {
			return reused(append(segs, name))
		}
		c.node.owned = true
		*adopted = append(*adopted, c.node)
		if c.node.kids != nil {
			segs = append(segs, name)
			stack = append(stack, frame{c.node, c.node.order.Iterator()})
		}
	}
	return nil
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
		n.version, n.born = 0, 0
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
		if cur.kids == nil { // p runs through a leaf
			return cur.version > start
		}
		c, ok := cur.kids.Get(seg)
		if !ok {
			return cur.born > start || cur.gone.removedAfter(seg, start)
		}
		cur = c.node
	}
	return cur.version > start
}

// build applies the sorted writes to a path copy of root, stamping every
// new node with version v, and returns the new root with the leaf values and
// branch memos that become unreachable at v.
func build[V any](root *Node[V], writes []Write[V], v Version) (*Node[V], []retired[V], error) {
	items := make([]retired[V], 1, 2+3*len(writes))
	items[0] = retired[V]{born: root.version, died: v, node: root}
	newRoot := root.copyBranch(v)
	for _, w := range writes {
		parent := newRoot
		last := len(w.Path) - 1
		for i, seg := range w.Path[:last] {
			c, ok := parent.kids.Get(seg)
			if !ok {
				if w.Node == nil {
					return nil, nil, &PathError{Path: w.Path[:i+1].String(), Code: CodeNotFound, Msg: "not found, cannot delete " + w.Path.String()}
				}
				nb := emptyBranch[V](v)
				parent.put(seg, nb, c, false)
				parent = nb
				continue
			}
			n := c.node
			if n.kids == nil {
				return nil, nil, &PathError{Path: w.Path[:i+1].String(), Code: CodeNotABranch, Msg: "is a leaf, so " + w.Path.String() + " cannot be written"}
			}
			if n.version != v {
				items = append(items, retired[V]{born: n.version, died: v, node: n})
				n = n.copyBranch(v)
				parent.kids = parent.kids.Set(seg, child[V]{node: n, seq: c.seq})
			}
			parent = n
		}
		name := w.Path[last]
		old, ok := parent.kids.Get(name)
		if ok {
			items = collectTree(old.node, v, items)
		}
		if w.Node == nil {
			if !ok {
				return nil, nil, &PathError{Path: w.Path.String(), Code: CodeNotFound, Msg: "not found, cannot delete it"}
			}
			parent.remove(name)
			continue
		}
		parent.put(name, w.Node, old, ok)
	}
	return newRoot, items, nil
}
