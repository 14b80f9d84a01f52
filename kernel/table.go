package kernel

// The children of a big branch live in a table: a hash array mapped trie
// (HAMT, in the compressed CHAMP layout) from name to child, plus a
// persistent vector of names in insertion order.
//
// Why not benbjohnson/immutable, which the kernel used before: its Map
// keeps every entry in a separately allocated value node behind an
// interface, and insertion order needed a second persistent map beside it,
// so a branch of 1M small leaves held ~219 B of Go heap per leaf; a
// one-key commit cost 9 of its 18 allocations in the HAMT; and its builders
// only start from an empty map, so the writes of one commit under one branch
// each paid a full persistent Set (12 allocations per path for 100 paths
// into a 10k-key branch). Here entries sit inline in their trie node, and
// every trie node records the version of the commit that created it: while
// that commit builds, it changes its own nodes in place (they are not
// published yet) and copies only nodes of published versions. That is the
// transient ("builder") mode of Clojure's and immutable's collections,
// keyed by version instead of by a builder object.

import (
	"hash/maphash"
	"math/bits"
)

const (
	hashBits  = 5
	hashWidth = 1 << hashBits
	// vecBits is the fan-out of the order vector's trie.
	vecBits  = 5
	vecWidth = 1 << vecBits
)

var hashSeed = maphash.MakeSeed()

// hashName hashes a child name; a variable so that tests can force
// collisions.
var hashName = func(name string) uint64 { return maphash.String(hashSeed, name) }

// slot is one child of a table: its name, node and insertion sequence
// number (its index in the order vector).
type slot[V any] struct {
	name string
	node *Node[V]
	seq  uint64
}

// hnode is a trie node. data and sub are bitmaps of the 32 positions
// holding an inline slot or a sub-node, slots and kids hold them in
// position order. Below the last level of hash bits a node is a collision
// list: slots only, unordered, bitmaps unused. edit is the version of the
// commit that created the node: only that commit's build may change it.
type hnode[V any] struct {
	edit      Version
	data, sub uint32
	slots     []slot[V]
	kids      []*hnode[V]
}

// own returns t itself when the build at edit created it, else a copy that
// build may change, with room for one more slot.
func (t *hnode[V]) own(edit Version) *hnode[V] {
	if t.edit == edit {
		return t
	}
	c := newHnode[V](edit, len(t.slots)+1)
	c.data, c.sub = t.data, t.sub
	c.slots = append(c.slots, t.slots...)
	if len(t.kids) > 0 {
		c.kids = make([]*hnode[V], len(t.kids))
		copy(c.kids, t.kids)
	}
	return c
}

// newHnode returns an empty node whose slots have room for n, allocated
// with the node in one allocation up to 32 slots (in size classes, so a
// node changed in place by one build rarely reallocates).
func newHnode[V any](edit Version, n int) *hnode[V] {
	var h *hnode[V]
	switch {
	case n <= 0:
		return &hnode[V]{edit: edit}
	case n <= 1:
		x := &struct {
			h hnode[V]
			a [1]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 2:
		x := &struct {
			h hnode[V]
			a [2]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 4:
		x := &struct {
			h hnode[V]
			a [4]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 6:
		x := &struct {
			h hnode[V]
			a [6]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 8:
		x := &struct {
			h hnode[V]
			a [8]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 12:
		x := &struct {
			h hnode[V]
			a [12]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 16:
		x := &struct {
			h hnode[V]
			a [16]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 24:
		x := &struct {
			h hnode[V]
			a [24]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	case n <= 32:
		x := &struct {
			h hnode[V]
			a [32]slot[V]
		}{}
		x.h.slots = x.a[:0]
		h = &x.h
	default: // a collision list
		h = &hnode[V]{slots: make([]slot[V], 0, n+n/4)}
	}
	h.edit = edit
	return h
}

// roomy returns t, owned by the build at edit, with room for one more
// slot: t itself, or a bigger copy that replaces it.
func (t *hnode[V]) roomy(edit Version) *hnode[V] {
	t = t.own(edit)
	if len(t.slots) < cap(t.slots) {
		return t
	}
	c := newHnode[V](edit, len(t.slots)+1)
	c.data, c.sub, c.kids = t.data, t.sub, t.kids
	c.slots = append(c.slots, t.slots...)
	return c
}

func position(h uint64, shift uint) (bit uint32) { return 1 << (h >> shift & (hashWidth - 1)) }

func index(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// get returns the slot called name, or nil.
func (t *hnode[V]) get(h uint64, name string) *slot[V] {
	for shift := uint(0); t != nil; shift += hashBits {
		if shift >= 64 {
			for i := range t.slots {
				if t.slots[i].name == name {
					return &t.slots[i]
				}
			}
			return nil
		}
		bit := position(h, shift)
		if t.data&bit != 0 {
			if s := &t.slots[index(t.data, bit)]; s.name == name {
				return s
			}
			return nil
		}
		if t.sub&bit == 0 {
			return nil
		}
		t = t.kids[index(t.sub, bit)]
	}
	return nil
}

// ref returns the slot called name in a version of t that the build at
// edit may change: t itself, or a copy of t and of the nodes on the way to
// the slot. On a miss it returns t unchanged and a nil slot.
func (t *hnode[V]) ref(h uint64, shift uint, name string, edit Version) (*hnode[V], *slot[V]) {
	if shift >= 64 {
		for i := range t.slots {
			if t.slots[i].name == name {
				t = t.own(edit)
				return t, &t.slots[i]
			}
		}
		return t, nil
	}
	bit := position(h, shift)
	if t.data&bit != 0 {
		i := index(t.data, bit)
		if t.slots[i].name != name {
			return t, nil
		}
		t = t.own(edit)
		return t, &t.slots[i]
	}
	if t.sub&bit == 0 {
		return t, nil
	}
	i := index(t.sub, bit)
	k, s := t.kids[i].ref(h, shift+hashBits, name, edit)
	if s == nil {
		return t, nil
	}
	if k != t.kids[i] {
		t = t.own(edit)
		t.kids[i] = k
	}
	return t, s
}

// insert adds s, whose name t does not hold (h is its hash), and returns
// the changed t.
func (t *hnode[V]) insert(h uint64, shift uint, s slot[V], edit Version) *hnode[V] {
	if shift >= 64 {
		t = t.own(edit)
		t.slots = append(t.slots, s)
		return t
	}
	bit := position(h, shift)
	switch {
	case t.sub&bit != 0:
		t = t.own(edit)
		i := index(t.sub, bit)
		t.kids[i] = t.kids[i].insert(h, shift+hashBits, s, edit)
	case t.data&bit != 0:
		t = t.own(edit)
		i := index(t.data, bit)
		old := t.slots[i]
		k := newHnode[V](edit, 2)
		k = k.insert(hashName(old.name), shift+hashBits, old, edit)
		k = k.insert(h, shift+hashBits, s, edit)
		t.slots = remove(t.slots, i)
		t.data &^= bit
		t.kids = insertAt(t.kids, index(t.sub, bit), k)
		t.sub |= bit
	default:
		t = t.roomy(edit)
		t.slots = insertAt(t.slots, index(t.data, bit), s)
		t.data |= bit
	}
	return t
}

// delete removes the slot called name, which t holds, and returns the
// changed t (nil when it became empty).
func (t *hnode[V]) delete(h uint64, shift uint, name string, edit Version) *hnode[V] {
	t = t.own(edit)
	if shift >= 64 {
		for i := range t.slots {
			if t.slots[i].name == name {
				t.slots = remove(t.slots, i)
				break
			}
		}
	} else if bit := position(h, shift); t.data&bit != 0 {
		t.slots = remove(t.slots, index(t.data, bit))
		t.data &^= bit
	} else {
		i := index(t.sub, bit)
		k := t.kids[i].delete(h, shift+hashBits, name, edit)
		switch {
		case k == nil:
			t.kids = remove(t.kids, i)
			t.sub &^= bit
		case len(k.kids) == 0 && len(k.slots) == 1:
			// A sub-node left with one entry moves it back up, so the
			// trie stays as shallow as its contents need.
			t.kids = remove(t.kids, i)
			t.sub &^= bit
			t.slots = insertAt(t.slots, index(t.data, bit), k.slots[0])
			t.data |= bit
		default:
			t.kids[i] = k
		}
	}
	if len(t.slots) == 0 && len(t.kids) == 0 {
		return nil
	}
	return t
}

// each calls fn for every slot of the trie, in no particular order, until
// fn returns false.
func (t *hnode[V]) each(fn func(s *slot[V]) bool) bool {
	if t == nil {
		return true
	}
	for i := range t.slots {
		if !fn(&t.slots[i]) {
			return false
		}
	}
	for _, k := range t.kids {
		if !k.each(fn) {
			return false
		}
	}
	return true
}

// insertAt inserts x at index i of s, growing s by a quarter when it is
// full so that a node changed in place by one build does not reallocate
// per insert, without the doubling of append.
func insertAt[T any](s []T, i int, x T) []T {
	if len(s) == cap(s) {
		n := make([]T, len(s)+1, len(s)+1+len(s)/4)
		copy(n, s[:i])
		n[i] = x
		copy(n[i+1:], s[i:])
		return n
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

// remove deletes index i of s in place (s belongs to the caller).
func remove[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// vnode is a node of the order vector: a trie of fan-out vecWidth whose
// leaves hold names. edit is as for hnode.
type vnode struct {
	edit  Version
	kids  []*vnode
	names []string
}

type vinner struct {
	n    vnode
	kids [vecWidth]*vnode
}

type vleaf struct {
	n     vnode
	names [vecWidth]string
}

func newVnode(leaf bool, edit Version) *vnode {
	if leaf {
		l := &vleaf{}
		l.n = vnode{edit: edit, names: l.names[:]}
		return &l.n
	}
	in := &vinner{}
	in.n = vnode{edit: edit, kids: in.kids[:]}
	return &in.n
}

func (v *vnode) own(edit Version) *vnode {
	if v.edit == edit {
		return v
	}
	c := newVnode(v.names != nil, edit)
	copy(c.kids, v.kids)
	copy(c.names, v.names)
	return c
}

// table is the children of a big branch.
type table[V any] struct {
	root  *hnode[V]
	order *vnode // name of each sequence number; "" for a removed key
	shift uint   // of the order trie's root; 0 when the root is a leaf
	next  uint64 // sequence number of the next new key, the order's length
	live  int    // keys held
}

// name returns the name with sequence number seq ("" if removed).
func (t *table[V]) name(seq uint64) string {
	v := t.order
	for shift := t.shift; shift > 0; shift -= vecBits {
		v = v.kids[seq>>shift&(vecWidth-1)]
	}
	return v.names[seq&(vecWidth-1)]
}

// setName sets the name of sequence number seq < next+1, for the build at
// edit, growing the trie when seq is past its capacity.
func (t *table[V]) setName(seq uint64, name string, edit Version) {
	if t.order == nil {
		t.order = newVnode(true, edit)
	}
	if seq>>(t.shift+vecBits) != 0 {
		root := newVnode(false, edit)
		root.kids[0] = t.order
		t.order = root
		t.shift += vecBits
	}
	t.order = t.order.own(edit)
	v := t.order
	for shift := t.shift; shift > 0; shift -= vecBits {
		i := seq >> shift & (vecWidth - 1)
		k := v.kids[i]
		if k == nil {
			k = newVnode(shift == vecBits, edit)
		} else {
			k = k.own(edit)
		}
		v.kids[i] = k
		v = k
	}
	v.names[seq&(vecWidth-1)] = name
}

// get returns the slot called name, or nil.
func (t *table[V]) get(name string) *slot[V] {
	return t.root.get(hashName(name), name)
}

// ref returns the slot called name for the build at edit to change, or nil.
func (t *table[V]) ref(name string, edit Version) *slot[V] {
	if t.root == nil {
		return nil
	}
	root, s := t.root.ref(hashName(name), 0, name, edit)
	t.root = root
	return s
}

// add inserts a new key last.
func (t *table[V]) add(name string, n *Node[V], edit Version) {
	if t.root == nil {
		t.root = newHnode[V](edit, 0)
	}
	t.root = t.root.insert(hashName(name), 0, slot[V]{name: name, node: n, seq: t.next}, edit)
	t.setName(t.next, name, edit)
	t.next++
	t.live++
}

// delete removes the key s, which t holds.
func (t *table[V]) delete(s *slot[V], edit Version) {
	name, seq := s.name, s.seq
	t.root = t.root.delete(hashName(name), 0, name, edit)
	t.setName(seq, "", edit)
	t.live--
}

// rangeOrder calls fn for every key in insertion order until fn returns
// false.
func (t *table[V]) rangeOrder(fn func(name string, n *Node[V]) bool) {
	for seq := uint64(0); seq < t.next; seq++ {
		name := t.name(seq)
		if name == "" {
			continue
		}
		if !fn(name, t.get(name).node) {
			return
		}
	}
}

// compacted returns a table with the keys of t in the same order and no
// removed sequence numbers, built for edit.
func (t *table[V]) compacted(edit Version) *table[V] {
	c := &table[V]{}
	t.rangeOrder(func(name string, n *Node[V]) bool {
		c.add(name, n, edit)
		return true
	})
	return c
}
