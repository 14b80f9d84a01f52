package kernel

import (
	"slices"
	"sort"
	"sync/atomic"

	"github.com/benbjohnson/immutable"
)

// Version numbers the states of a State: 0 for the initial state, then one
// more per commit.
type Version = uint64

// Node is one node of the state tree: a leaf holding a value, or a branch
// holding named children. A node is immutable once committed; it may be
// shared by many versions. A leaf is only its version and value: what a
// branch needs more lives in br, allocated together with the node.
type Node[V any] struct {
	version Version
	br      *branch[V] // nil for a leaf
	value   V
	owned   bool // adopted by a State; never reset once committed
}

// branch is the part of a Node that only branches have. Up to smallMax
// children sit in small, in insertion order; a bigger branch keeps them in
// big.
type branch[V any] struct {
	born  Version // the version that put this node at its place; path copies keep it
	small []kid[V]
	big   *table[V] // nil while the branch is small
	gone  *graves   // when children of this branch were removed; nil if never
	memo  atomic.Pointer[memoBox[V]]
}

// kid is a child of a small branch.
type kid[V any] struct {
	name string
	node *Node[V]
}

// smallMax is the most children a branch keeps in a slice, found by
// linear search; a branch that grows past it moves to a table, and moves
// back when it shrinks to smallMin.
const (
	smallMax = 32
	smallMin = smallMax / 2
)

// branchNode and bigNode allocate a branch node and its branch (and table)
// at once.
type branchNode[V any] struct {
	n Node[V]
	b branch[V]
}

type bigNode[V any] struct {
	n Node[V]
	b branch[V]
	t table[V]
}

// newBranch returns a small branch with room for n children, allocated
// with the node in one allocation (in size classes).
func newBranch[V any](n int) *Node[V] {
	var nd *Node[V]
	var b *branch[V]
	switch {
	case n <= 2:
		x := &struct {
			branchNode[V]
			a [2]kid[V]
		}{}
		x.b.small = x.a[:0]
		nd, b = &x.n, &x.b
	case n <= 4:
		x := &struct {
			branchNode[V]
			a [4]kid[V]
		}{}
		x.b.small = x.a[:0]
		nd, b = &x.n, &x.b
	case n <= 8:
		x := &struct {
			branchNode[V]
			a [8]kid[V]
		}{}
		x.b.small = x.a[:0]
		nd, b = &x.n, &x.b
	case n <= 16:
		x := &struct {
			branchNode[V]
			a [16]kid[V]
		}{}
		x.b.small = x.a[:0]
		nd, b = &x.n, &x.b
	default:
		x := &struct {
			branchNode[V]
			a [smallMax]kid[V]
		}{}
		x.b.small = x.a[:0]
		nd, b = &x.n, &x.b
	}
	nd.br = b
	return nd
}

func newBigBranch[V any](t *table[V]) *Node[V] {
	bn := &bigNode[V]{t: *t}
	bn.n.br = &bn.b
	bn.b.big = &bn.t
	return &bn.n
}

// graves records, for a branch, the version at which each missing child was
// last removed, so that a commit declaring a missing path can tell whether
// that very child disappeared after the commit's start version. Only the
// newest maxGraves removals are remembered; floor is the newest version that
// was forgotten, and a start version before it cannot be told apart, so it
// counts as a change. A graves value is immutable once a node is published.
type graves struct {
	names *immutable.Map[string, Version]
	floor Version
}

// maxGraves bounds the removals remembered per branch. When a branch passes
// it, the older half is forgotten in one pass, so the cost stays O(1)
// amortized per removal and a zone with endless churn (an outbox) keeps a
// bounded record.
const maxGraves = 256

// removedAfter reports whether child name was removed after version start,
// or might have been (start is older than what is remembered).
func (g *graves) removedAfter(name string, start Version) bool {
	if g == nil {
		return false
	}
	if start < g.floor {
		return true
	}
	v, ok := g.names.Get(name)
	return ok && v > start
}

// bury returns g with name removed at version v.
func (g *graves) bury(name string, v Version) *graves {
	var next graves
	if g == nil {
		next.names = immutable.NewMap[string, Version](keyHasher{})
	} else {
		next = *g
	}
	next.names = next.names.Set(name, v)
	if next.names.Len() > maxGraves {
		next.forget()
	}
	return &next
}

// forget drops the older half of the remembered removals and raises floor.
func (g *graves) forget() {
	versions := make([]Version, 0, g.names.Len())
	for it := g.names.Iterator(); !it.Done(); {
		_, v, _ := it.Next()
		versions = append(versions, v)
	}
	slices.Sort(versions)
	cut := versions[len(versions)/2]
	b := immutable.NewMapBuilder[string, Version](keyHasher{})
	for it := g.names.Iterator(); !it.Done(); {
		name, v, _ := it.Next()
		if v > cut {
			b.Set(name, v)
		}
	}
	g.names, g.floor = b.Map(), max(g.floor, cut)
}

// revive returns g without name, which exists again; nil when nothing and
// no floor is left to remember.
func (g *graves) revive(name string) *graves {
	if g == nil {
		return nil
	}
	if _, ok := g.names.Get(name); !ok {
		return g
	}
	next := *g
	next.names = next.names.Delete(name)
	if next.names.Len() == 0 && next.floor == 0 {
		return nil
	}
	return &next
}

// memoBox holds a memo. The dead box marks a released memo slot. read
// records that MemoRead handed the memo out (for Options.Carry).
type memoBox[V any] struct {
	v    V
	dead bool
	read atomic.Bool
}

// keyHasher hashes grave names for immutable.Map.
type keyHasher struct{}

func (keyHasher) Hash(k string) uint32 {
	h := hashName(k)
	return uint32(h ^ h>>32)
}

func (keyHasher) Equal(a, b string) bool { return a == b }

// Leaf returns a new leaf holding v. When the leaf is committed the State
// takes ownership of v.
func Leaf[V any](v V) *Node[V] {
	return &Node[V]{value: v}
}

// Branch returns a new branch with the given children. order lists the keys
// in insertion order; keys missing from order follow in sorted order, and a
// nil order sorts all keys. Names in order without a child and nil children
// are ignored. The children must be new nodes, not nodes of a State.
func Branch[V any](children map[string]*Node[V], order []string) *Node[V] {
	names := make([]string, 0, len(children))
	kids := make([]*Node[V], 0, len(children))
	seen := 0
	for _, k := range order {
		if c := children[k]; c != nil {
			names = append(names, k)
			kids = append(kids, c)
			seen++
		}
	}
	if seen < len(children) {
		listed := make(map[string]bool, len(order))
		for _, k := range order {
			listed[k] = true
		}
		rest := make([]string, 0, len(children)-seen)
		for k := range children {
			if !listed[k] {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range rest {
			names = append(names, k)
			kids = append(kids, children[k])
		}
	}
	return BranchOf(names, kids)
}

// BranchOf returns a new branch whose children are kids[i] named names[i],
// in that order: Branch with an order that lists every key, without the
// map. A repeated name keeps its first occurrence and nil kids are
// ignored. It panics when the slices differ in length. The children must
// be new nodes, not nodes of a State.
func BranchOf[V any](names []string, kids []*Node[V]) *Node[V] {
	if len(names) != len(kids) {
		panic("kernel.BranchOf: names and kids differ in length")
	}
	if len(kids) <= smallMax {
		n := newBranch[V](len(kids))
		small := n.br.small
	next:
		for i, c := range kids {
			if c == nil {
				continue
			}
			for _, e := range small {
				if e.name == names[i] {
					continue next
				}
			}
			small = append(small, kid[V]{names[i], c})
		}
		n.br.small = small
		return n
	}
	// Nodes built here carry the version no commit reaches, so no commit
	// changes them in place.
	const building = ^Version(0)
	var t table[V]
	for i, c := range kids {
		if c != nil && t.get(names[i]) == nil {
			t.add(names[i], c, building)
		}
	}
	if t.live <= smallMax {
		n := newBranch[V](t.live)
		t.rangeOrder(func(name string, c *Node[V]) bool {
			n.br.small = append(n.br.small, kid[V]{name, c})
			return true
		})
		return n
	}
	return newBigBranch(&t)
}

// emptyBranch returns an owned branch with no children.
func emptyBranch[V any](version Version) *Node[V] {
	n := newBranch[V](2)
	n.version, n.br.born, n.owned = version, version, true
	return n
}

// IsLeaf reports whether n is a leaf.
func (n *Node[V]) IsLeaf() bool { return n.br == nil }

// Value returns the value of a leaf, or the zero V for a branch.
func (n *Node[V]) Value() V {
	if n.br != nil {
		var zero V
		return zero
	}
	return n.value
}

// Version returns the version that last changed n or anything below it.
func (n *Node[V]) Version() Version { return n.version }

// Len returns the number of children of a branch, 0 for a leaf.
func (n *Node[V]) Len() int {
	switch {
	case n.br == nil:
		return 0
	case n.br.big != nil:
		return n.br.big.live
	}
	return len(n.br.small)
}

// Child returns the child called name.
func (n *Node[V]) Child(name string) (*Node[V], bool) {
	if n.br == nil {
		return nil, false
	}
	c := n.br.child(name)
	return c, c != nil
}

// Range calls fn for every child in insertion order until fn returns false.
func (n *Node[V]) Range(fn func(name string, child *Node[V]) bool) {
	if n.br == nil {
		return
	}
	if n.br.big != nil {
		n.br.big.rangeOrder(fn)
		return
	}
	for _, e := range n.br.small {
		if !fn(e.name, e.node) {
			return
		}
	}
}

// Memo returns the value cached on a branch by SetMemo.
func (n *Node[V]) Memo() (V, bool) {
	if n.br != nil {
		if b := n.br.memo.Load(); b != nil && !b.dead {
			return b.v, true
		}
	}
	var zero V
	return zero, false
}

// MemoRead is Memo for a reader that uses the memo: it also records that the
// memo was read, which Options.Carry is told when the branch is replaced.
func (n *Node[V]) MemoRead() (V, bool) {
	if n.br != nil {
		if b := n.br.memo.Load(); b != nil && !b.dead {
			if !b.read.Load() {
				b.read.Store(true)
			}
			return b.v, true
		}
	}
	var zero V
	return zero, false
}

// MemoReleased reports whether n's memo slot was released with n: n is
// then reachable by no live version and its children may be released too.
func (n *Node[V]) MemoReleased() bool {
	if n.br == nil {
		return false
	}
	b := n.br.memo.Load()
	return b != nil && b.dead
}

// Born returns the version that put n at its place (path copies keep it).
func (n *Node[V]) Born() Version {
	if n.br == nil {
		return n.version // a leaf is never path-copied
	}
	return n.br.born
}

// SetMemo caches v on a branch, once. It returns (v, true) when v was stored;
// the State then owns v and releases it with the node. Otherwise it returns
// the memo already stored (zero V if the node is a leaf or already released)
// and false, and the caller keeps ownership of v.
func (n *Node[V]) SetMemo(v V) (stored V, ok bool) {
	if n.br == nil {
		var zero V
		return zero, false
	}
	box := &memoBox[V]{v: v}
	if n.br.memo.CompareAndSwap(nil, box) {
		return v, true
	}
	existing, _ := n.Memo()
	return existing, false
}

// takeMemo marks the memo slot released with the dead box and returns the
// memo it held.
func (n *Node[V]) takeMemo(dead *memoBox[V]) (V, bool) {
	v, ok, _ := n.takeMemoRead(dead)
	return v, ok
}

// takeMemoRead is takeMemo that also reports whether the memo was read.
func (n *Node[V]) takeMemoRead(dead *memoBox[V]) (V, bool, bool) {
	var zero V
	if n.br == nil {
		return zero, false, false
	}
	b := n.br.memo.Swap(dead)
	if b == nil || b.dead {
		return zero, false, false
	}
	return b.v, true, b.read.Load()
}

// hasMemo reports whether branch n holds a live memo.
func (n *Node[V]) hasMemo() bool {
	b := n.br.memo.Load()
	return b != nil && !b.dead
}

// Lookup returns the node at p below n; an empty p returns n. It returns a
// *PathError with Code "not_found" naming the first missing path, or
// "not_a_branch" naming the leaf the path goes through.
func (n *Node[V]) Lookup(p Path) (*Node[V], error) {
	cur := n
	for i, seg := range p {
		if cur.br == nil {
			return nil, &PathError{Path: p[:i].String(), Code: CodeNotABranch, Msg: "is a leaf, so " + p.String() + " cannot exist"}
		}
		c := cur.br.child(seg)
		if c == nil {
			return nil, &PathError{Path: p[:i+1].String(), Code: CodeNotFound, Msg: "not found"}
		}
		cur = c
	}
	return cur, nil
}

// child returns the child called name, or nil.
func (b *branch[V]) child(name string) *Node[V] {
	if b.big != nil {
		if s := b.big.get(name); s != nil {
			return s.node
		}
		return nil
	}
	for i := range b.small {
		if b.small[i].name == name {
			return b.small[i].node
		}
	}
	return nil
}

// eachChild calls fn for every child, in no particular order.
func (b *branch[V]) eachChild(fn func(c *Node[V])) {
	if b.big != nil {
		b.big.root.each(func(s *slot[V]) bool { fn(s.node); return true })
		return
	}
	for _, e := range b.small {
		fn(e.node)
	}
}

// copyBranch returns an unpublished copy of branch n stamped with version
// v. The copy owns its small slice (with room for one more child); a big
// copy shares the table's nodes until the build at v changes them.
func (n *Node[V]) copyBranch(v Version) *Node[V] {
	var c *Node[V]
	if n.br.big != nil {
		c = newBigBranch(n.br.big)
	} else {
		c = newBranch[V](min(len(n.br.small)+1, smallMax))
		c.br.small = append(c.br.small, n.br.small...)
	}
	c.version, c.owned = v, true
	c.br.born, c.br.gone = n.br.born, n.br.gone
	return c
}

// ref returns where the unpublished branch n, stamped with version v,
// keeps its child called name, for the build at v to replace the child in
// place; nil when there is no such child. The pointer is valid until the
// next add or remove on n.
func (n *Node[V]) ref(name string) **Node[V] {
	b := n.br
	if b.big != nil {
		if s := b.big.ref(name, n.version); s != nil {
			return &s.node
		}
		return nil
	}
	for i := range b.small {
		if b.small[i].name == name {
			return &b.small[i].node
		}
	}
	return nil
}

// add puts the new key name last in the unpublished branch n.
func (n *Node[V]) add(name string, c *Node[V]) {
	b := n.br
	b.gone = b.gone.revive(name)
	if b.big != nil {
		b.big.add(name, c, n.version)
		return
	}
	if len(b.small) < smallMax {
		b.small = append(b.small, kid[V]{name, c})
		return
	}
	t := &table[V]{}
	for _, e := range b.small {
		t.add(e.name, e.node, n.version)
	}
	t.add(name, c, n.version)
	b.small, b.big = nil, t
}

// remove deletes child name, which it holds, from the unpublished branch n
// and remembers when it went.
func (n *Node[V]) remove(name string) {
	b := n.br
	b.gone = b.gone.bury(name, n.version)
	if b.big == nil {
		for i := range b.small {
			if b.small[i].name == name {
				b.small = remove(b.small, i)
				return
			}
		}
		return
	}
	t := b.big
	t.delete(t.get(name), n.version)
	switch {
	case t.live <= smallMin:
		small := make([]kid[V], 0, t.live+1)
		t.rangeOrder(func(name string, c *Node[V]) bool {
			small = append(small, kid[V]{name, c})
			return true
		})
		b.small, b.big = small, nil
	case t.next-uint64(t.live) > uint64(t.live):
		// More removed sequence numbers than keys: renumber, so the
		// order costs the keys it holds (amortized O(1) per removal).
		b.big = t.compacted(n.version)
	}
}

// at returns the child at position i of the branch's insertion order, ok
// false past the end. A big branch may have a removed key there: c is then
// nil.
func (b *branch[V]) at(i int) (name string, c *Node[V], ok bool) {
	if b.big == nil {
		if i >= len(b.small) {
			return "", nil, false
		}
		return b.small[i].name, b.small[i].node, true
	}
	if uint64(i) >= b.big.next {
		return "", nil, false
	}
	if name = b.big.name(uint64(i)); name == "" {
		return "", nil, true
	}
	return name, b.big.get(name).node, true
}
