package kernel

import (
	"hash/maphash"
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
// shared by many versions.
type Node[V any] struct {
	version Version
	born    Version // the version that put this node at its place; path copies keep it
	value   V
	kids    *immutable.Map[string, child[V]] // nil for a leaf
	order   *immutable.SortedMap[uint64, string]
	next    uint64  // sequence number the next new key gets
	gone    *graves // when children of this branch were removed; nil if never
	memo    atomic.Pointer[memoBox[V]]
	owned   bool // adopted by a State; never reset once committed
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

// child is a branch entry: the child node and the key's insertion sequence
// number, which keeps its place when the child is replaced.
type child[V any] struct {
	node *Node[V]
	seq  uint64
}

// memoBox holds a memo. The dead box marks a released memo slot. read
// records that MemoRead handed the memo out (for Options.Carry).
type memoBox[V any] struct {
	v    V
	dead bool
	read atomic.Bool
}

var hashSeed = maphash.MakeSeed()

// keyHasher hashes child names for the HAMT with the runtime's string hash.
type keyHasher struct{}

func (keyHasher) Hash(k string) uint32 {
	h := maphash.String(hashSeed, k)
	return uint32(h ^ h>>32)
}

func (keyHasher) Equal(a, b string) bool { return a == b }

// seqComparer orders insertion sequence numbers.
type seqComparer struct{}

func (seqComparer) Compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

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
	kids := immutable.NewMapBuilder[string, child[V]](keyHasher{})
	seqs := immutable.NewSortedMapBuilder[uint64, string](seqComparer{})
	var next uint64
	add := func(k string) {
		c := children[k]
		if c == nil {
			return
		}
		if _, dup := kids.Get(k); dup {
			return
		}
		kids.Set(k, child[V]{node: c, seq: next})
		seqs.Set(next, k)
		next++
	}
	for _, k := range order {
		add(k)
	}
	if kids.Len() < len(children) {
		rest := make([]string, 0, len(children)-kids.Len())
		for k := range children {
			if _, done := kids.Get(k); !done {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range rest {
			add(k)
		}
	}
	return &Node[V]{kids: kids.Map(), order: seqs.Map(), next: next}
}

// emptyBranch returns a branch with no children.
func emptyBranch[V any](version Version) *Node[V] {
	return &Node[V]{
		version: version,
		born:    version,
		kids:    immutable.NewMap[string, child[V]](keyHasher{}),
		order:   immutable.NewSortedMap[uint64, string](seqComparer{}),
		owned:   true,
	}
}

// IsLeaf reports whether n is a leaf.
func (n *Node[V]) IsLeaf() bool { return n.kids == nil }

// Value returns the value of a leaf, or the zero V for a branch.
func (n *Node[V]) Value() V {
	if n.kids != nil {
		var zero V
		return zero
	}
	return n.value
}

// Version returns the version that last changed n or anything below it.
func (n *Node[V]) Version() Version { return n.version }

// Len returns the number of children of a branch, 0 for a leaf.
func (n *Node[V]) Len() int {
	if n.kids == nil {
		return 0
	}
	return n.kids.Len()
}

// Child returns the child called name.
func (n *Node[V]) Child(name string) (*Node[V], bool) {
	if n.kids == nil {
		return nil, false
	}
	c, ok := n.kids.Get(name)
	return c.node, ok
}

// Range calls fn for every child in insertion order until fn returns false.
func (n *Node[V]) Range(fn func(name string, child *Node[V]) bool) {
	if n.kids == nil {
		return
	}
	it := n.order.Iterator()
	for !it.Done() {
		_, name, _ := it.Next()
		c, _ := n.kids.Get(name)
		if !fn(name, c.node) {
			return
		}
	}
}

// Memo returns the value cached on a branch by SetMemo.
func (n *Node[V]) Memo() (V, bool) {
	if b := n.memo.Load(); b != nil && !b.dead {
		return b.v, true
	}
	var zero V
	return zero, false
}

// MemoRead is Memo for a reader that uses the memo: it also records that the
// memo was read, which Options.Carry is told when the branch is replaced.
func (n *Node[V]) MemoRead() (V, bool) {
	if b := n.memo.Load(); b != nil && !b.dead {
		if !b.read.Load() {
			b.read.Store(true)
		}
		return b.v, true
	}
	var zero V
	return zero, false
}

// MemoReleased reports whether n's memo slot was released with n: n is
// then reachable by no live version and its children may be released too.
func (n *Node[V]) MemoReleased() bool {
	b := n.memo.Load()
	return b != nil && b.dead
}

// Born returns the version that put n at its place (path copies keep it).
func (n *Node[V]) Born() Version { return n.born }

// SetMemo caches v on a branch, once. It returns (v, true) when v was stored;
// the State then owns v and releases it with the node. Otherwise it returns
// the memo already stored (zero V if the node is a leaf or already released)
// and false, and the caller keeps ownership of v.
func (n *Node[V]) SetMemo(v V) (stored V, ok bool) {
	if n.kids == nil {
		var zero V
		return zero, false
	}
	box := &memoBox[V]{v: v}
	if n.memo.CompareAndSwap(nil, box) {
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
	b := n.memo.Swap(dead)
	if b == nil || b.dead {
		var zero V
		return zero, false, false
	}
	return b.v, true, b.read.Load()
}

// Lookup returns the node at p below n; an empty p returns n. It returns a
// *PathError with Code "not_found" naming the first missing path, or
// "not_a_branch" naming the leaf the path goes through.
func (n *Node[V]) Lookup(p Path) (*Node[V], error) {
	cur := n
	for i, seg := range p {
		if cur.kids == nil {
			return nil, &PathError{Path: p[:i].String(), Code: CodeNotABranch, Msg: "is a leaf, so " + p.String() + " cannot exist"}
		}
		c, ok := cur.kids.Get(seg)
		if !ok {
			return nil, &PathError{Path: p[:i+1].String(), Code: CodeNotFound, Msg: "not found"}
		}
		cur = c.node
	}
	return cur, nil
}

// copyBranch returns an unpublished copy of branch n stamped with version v.
func (n *Node[V]) copyBranch(v Version) *Node[V] {
	return &Node[V]{version: v, born: n.born, kids: n.kids, order: n.order, next: n.next, gone: n.gone, owned: true}
}

// put sets child name on an unpublished branch. A replaced key (exists)
// keeps its place old.seq; a new key goes last.
func (n *Node[V]) put(name string, c *Node[V], old child[V], exists bool) {
	if exists {
		n.kids = n.kids.Set(name, child[V]{node: c, seq: old.seq})
		return
	}
	n.kids = n.kids.Set(name, child[V]{node: c, seq: n.next})
	n.order = n.order.Set(n.next, name)
	n.next++
	n.gone = n.gone.revive(name)
}

// remove deletes child name from an unpublished branch stamped with version
// v and remembers when it went.
func (n *Node[V]) remove(name string) {
	if old, ok := n.kids.Get(name); ok {
		n.kids = n.kids.Delete(name)
		n.order = n.order.Delete(old.seq)
		n.gone = n.gone.bury(name, n.version)
	}
}
