package kernel

import "strings"

// ChangeKind says how a path differs between two trees.
type ChangeKind int

// The kinds of Change.
const (
	// Added marks a path present only in the second tree.
	Added ChangeKind = iota + 1
	// Changed marks a path present in both trees whose value differs: a leaf
	// replaced by another leaf, or a leaf replaced by a branch or the reverse.
	Changed
	// Removed marks a path present only in the first tree.
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

// Change is one path that differs between two trees. Old is nil for Added,
// New is nil for Removed; for Changed both are set, and either may be a
// branch when the kind of node changed.
type Change[V any] struct {
	Path     string
	Kind     ChangeKind
	Old, New *Node[V]
}

// Diff returns the paths that differ from tree a to tree b, in tree order:
// at each branch the children of b in insertion order, then the children
// only a has. Either tree may be nil (empty).
//
// The reported paths are the terminals of the trees: leaves and empty
// branches. A subtree present on one side only is reported as each of its
// terminals, Added or Removed (so an added empty dict is one Added change).
// A path that is a leaf on one side and a branch on the other is one Changed
// change at that path, with the leaf and the branch as Old and New, and
// nothing below it. A branch on both sides is never reported itself, only
// what differs below it.
//
// Subtrees shared by both trees are skipped by pointer, so comparing two
// versions of one State costs the width of the branches on changed paths,
// not the size of the trees. Diff walks with an explicit work list: a deep
// tree costs no Go stack.
func Diff[V any](a, b *Node[V]) []Change[V] {
	if a == b {
		return nil
	}
	type task struct {
		at   *segment
		a, b *Node[V]
	}
	var out []Change[V]
	var todo, kids []task
	// children queues the children of a and b (nil is an empty branch) so
	// that they are taken in tree order.
	children := func(at *segment, a, b *Node[V]) {
		if b != nil {
			b.Range(func(name string, bc *Node[V]) bool {
				var ac *Node[V]
				if a != nil {
					ac, _ = a.Child(name)
				}
				kids = append(kids, task{at.child(name), ac, bc})
				return true
			})
		}
		if a != nil {
			a.Range(func(name string, ac *Node[V]) bool {
				if b == nil {
					kids = append(kids, task{at.child(name), ac, nil})
				} else if _, ok := b.Child(name); !ok {
					kids = append(kids, task{at.child(name), ac, nil})
				}
				return true
			})
		}
		for i := len(kids) - 1; i >= 0; i-- {
			todo = append(todo, kids[i])
		}
		kids = kids[:0]
	}
	if (a == nil || !a.IsLeaf()) && (b == nil || !b.IsLeaf()) {
		children(nil, a, b) // the roots themselves are never reported
	} else {
		todo = append(todo, task{nil, a, b})
	}
	for len(todo) > 0 {
		t := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		switch {
		case t.a == t.b:
		case t.a == nil || t.b == nil:
			n, kind := t.b, Added
			if n == nil {
				n, kind = t.a, Removed
			}
			if n.IsLeaf() || n.Len() == 0 {
				out = append(out, Change[V]{Path: t.at.path(), Kind: kind, Old: t.a, New: t.b})
			} else {
				children(t.at, t.a, t.b)
			}
		case t.a.IsLeaf() || t.b.IsLeaf():
			out = append(out, Change[V]{Path: t.at.path(), Kind: Changed, Old: t.a, New: t.b})
		default:
			children(t.at, t.a, t.b)
		}
	}
	return out
}

// segment is one step of a path being walked, linked to its parent so that
// a deep walk shares its prefixes; the dotted string is built only for a
// reported change.
type segment struct {
	up    *segment
	name  string
	depth int
}

func (s *segment) child(name string) *segment {
	if s == nil {
		return &segment{name: name, depth: 1}
	}
	return &segment{up: s, name: name, depth: s.depth + 1}
}

func (s *segment) path() string {
	if s == nil {
		return ""
	}
	parts := make([]string, s.depth)
	for p := s; p != nil; p = p.up {
		parts[p.depth-1] = p.name
	}
	return strings.Join(parts, ".")
}
