package kernel

import "strings"

// ChangeKind says how a leaf path differs between two trees.
type ChangeKind int

// The kinds of Change.
const (
	// Added marks a leaf path present only in the second tree.
	Added ChangeKind = iota + 1
	// Changed marks a leaf path whose leaf differs between the trees.
	Changed
	// Removed marks a leaf path present only in the first tree.
	Removed
)

// String returns "added", "changed" or "removed".
func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return "unknown"
}

// Change is one leaf path that differs between two trees. Old is nil for
// Added, New is nil for Removed.
type Change[V any] struct {
	Path     string
	Kind     ChangeKind
	Old, New *Node[V]
}

// Diff returns the leaf paths that differ from tree a to tree b, in tree
// order: at each branch the children of b in insertion order, then the
// children only a has. Either tree may be nil (empty). Subtrees
// shared by both trees are skipped by pointer, so comparing two versions of
// one State costs the width of the branches on changed paths, not the size
// of the trees. A leaf replaced by a branch (or the reverse) shows as the
// removal of one side and the addition of the other.
func Diff[V any](a, b *Node[V]) []Change[V] {
	var out []Change[V]
	diffNodes(nil, a, b, &out)
	return out
}

func diffNodes[V any](path []string, a, b *Node[V], out *[]Change[V]) {
	switch {
	case a == b:
		return
	case a == nil:
		emitAll(path, b, Added, out)
		return
	case b == nil:
		emitAll(path, a, Removed, out)
		return
	case a.IsLeaf() && b.IsLeaf():
		*out = append(*out, Change[V]{Path: strings.Join(path, "."), Kind: Changed, Old: a, New: b})
		return
	case a.IsLeaf() || b.IsLeaf():
		emitAll(path, a, Removed, out)
		emitAll(path, b, Added, out)
		return
	}
	b.Range(func(name string, bc *Node[V]) bool {
		ac, _ := a.Child(name)
		diffNodes(append(path, name), ac, bc, out)
		return true
	})
	a.Range(func(name string, ac *Node[V]) bool {
		if _, ok := b.Child(name); !ok {
			emitAll(append(path, name), ac, Removed, out)
		}
		return true
	})
}

// emitAll appends a change of kind for every leaf at or below n.
func emitAll[V any](path []string, n *Node[V], kind ChangeKind, out *[]Change[V]) {
	if n.IsLeaf() {
		c := Change[V]{Path: strings.Join(path, "."), Kind: kind}
		if kind == Removed {
			c.Old = n
		} else {
			c.New = n
		}
		*out = append(*out, c)
		return
	}
	n.Range(func(name string, c *Node[V]) bool {
		emitAll(append(path, name), c, kind, out)
		return true
	})
}
