package kernel

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// orderModel is the reference for one branch: a plain map and the keys in
// insertion order (a replaced key keeps its place, a new or re-added key
// goes last).
type orderModel struct {
	vals  map[string]int
	order []string
}

func (m *orderModel) set(k string, v int) {
	if _, ok := m.vals[k]; !ok {
		m.order = append(m.order, k)
	}
	m.vals[k] = v
}

func (m *orderModel) del(k string) {
	delete(m.vals, k)
	m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == k })
}

func (m *orderModel) clone() *orderModel {
	vals := make(map[string]int, len(m.vals))
	for k, v := range m.vals {
		vals[k] = v
	}
	return &orderModel{vals: vals, order: slices.Clone(m.order)}
}

// checkBranch fails unless branch n holds exactly what m holds, in m's
// order, through every read path (Len, Range, Child, Lookup, at).
func checkBranch(t *testing.T, n *Node[int], m *orderModel, absent []string) {
	t.Helper()
	if n.Len() != len(m.order) {
		t.Fatalf("Len %d, model %d", n.Len(), len(m.order))
	}
	var got []string
	n.Range(func(name string, c *Node[int]) bool {
		got = append(got, name)
		if c.Value() != m.vals[name] {
			t.Fatalf("%s: Range value %d, model %d", name, c.Value(), m.vals[name])
		}
		return true
	})
	if !slices.Equal(got, m.order) {
		t.Fatalf("order %v\nmodel %v", got, m.order)
	}
	for k, v := range m.vals {
		c, ok := n.Child(k)
		if !ok || c.Value() != v {
			t.Fatalf("%s: Child %v %v, model %d", k, c, ok, v)
		}
	}
	for _, k := range absent {
		if _, ok := m.vals[k]; ok {
			continue
		}
		if _, ok := n.Child(k); ok {
			t.Fatalf("%s: Child found a removed key", k)
		}
	}
	var seen []string
	for i := 0; ; i++ {
		name, c, ok := n.br.at(i)
		if !ok {
			break
		}
		if c != nil {
			seen = append(seen, name)
		}
	}
	if !slices.Equal(seen, m.order) {
		t.Fatalf("at order %v\nmodel %v", seen, m.order)
	}
	count := 0
	n.br.eachChild(func(*Node[int]) { count++ })
	if count != len(m.order) {
		t.Fatalf("eachChild saw %d children, model %d", count, len(m.order))
	}
}

// weakHash replaces hashName for the duration of a test, so that names
// collide on the given low bits only (mask 0 makes every name collide).
func weakHash(t *testing.T, mask uint64) {
	old := hashName
	hashName = func(s string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s))
		return h.Sum64() & mask
	}
	t.Cleanup(func() { hashName = old })
}

// TestBranchModel commits random inserts, replaces, deletes and re-adds,
// several per commit, into one branch, growing it past smallMax and
// shrinking it below smallMin, and checks the head and older snapshots
// against the model after every commit, and that every value is released
// exactly once.
func TestBranchModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		mask uint64
		keys int
	}{
		{"runtime hash", ^uint64(0), 300},
		{"12-bit hash", 1<<12 - 1, 300},
		{"3-bit hash", 7, 120},
		{"one hash", 0, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mask != ^uint64(0) {
				weakHash(t, tc.mask)
			}
			rng := rand.New(rand.NewPCG(1, tc.mask))
			released := map[int]int{}
			s, err := New[int](nil, Options[int]{Release: func(v int) { released[v]++ }})
			if err != nil {
				t.Fatal(err)
			}
			m := &orderModel{vals: map[string]int{}}
			names := make([]string, tc.keys)
			for i := range names {
				names[i] = "k" + strconv.Itoa(i)
			}
			type held struct {
				sn *Snapshot[int]
				m  *orderModel
			}
			var snaps []held
			next := 0
			grow := true
			wasBig, crossings := false, 0
			for step := 0; step < 1500; step++ {
				// Alternate phases of growth and shrinkage so the branch
				// crosses the small/big threshold both ways many times.
				if len(m.order) > tc.keys*3/4 {
					grow = false
				} else if len(m.order) < 4 {
					grow = true
				}
				var ws []Write[int]
				used := map[string]bool{}
				for n := 1 + rng.IntN(6); n > 0; n-- {
					k := names[rng.IntN(len(names))]
					if !grow && len(m.order) > 0 && rng.IntN(10) < 8 {
						k = m.order[rng.IntN(len(m.order))]
					}
					if used[k] {
						continue
					}
					used[k] = true
					_, exists := m.vals[k]
					del := exists && (rng.IntN(10) < 3 || !grow && rng.IntN(10) < 8)
					if del {
						ws = append(ws, Write[int]{Path: Path{"d", k}})
						continue
					}
					next++
					ws = append(ws, Write[int]{Path: Path{"d", k}, Node: Leaf(next)})
				}
				if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: ws}); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				// A commit applies its writes in path order.
				slices.SortFunc(ws, func(a, b Write[int]) int { return comparePaths(a.Path, b.Path) })
				for _, w := range ws {
					if w.Node == nil {
						m.del(w.Path[1])
					} else {
						m.set(w.Path[1], w.Node.Value())
					}
				}
				sn := s.Snapshot()
				d, err := sn.Lookup(Path{"d"})
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				checkBranch(t, d, m, names)
				if big := d.br.big != nil; big != wasBig {
					crossings++
					wasBig = big
				}
				if step%50 == 0 {
					snaps = append(snaps, held{sn, m.clone()})
				} else {
					sn.Release()
				}
			}
			if crossings < 6 {
				t.Fatalf("the branch crossed between small and big %d times, want several", crossings)
			}
			for _, h := range snaps {
				d, err := h.sn.Lookup(Path{"d"})
				if err != nil {
					t.Fatal(err)
				}
				checkBranch(t, d, h.m, names)
				h.sn.Release()
			}
			s.Close()
			for v := 1; v <= next; v++ {
				if released[v] != 1 {
					t.Fatalf("value %d released %d times", v, released[v])
				}
			}
		})
	}
}

// TestBranchOf checks BranchOf and Branch against the model: order kept,
// repeated names keep their first occurrence, nil kids skipped, at small
// and big sizes.
func TestBranchOf(t *testing.T) {
	for _, size := range []int{0, 1, smallMax, smallMax + 1, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(size)))
			var names []string
			var kids []*Node[int]
			m := &orderModel{vals: map[string]int{}}
			children := map[string]*Node[int]{}
			for i := 0; i < size; i++ {
				k := "k" + strconv.Itoa(rng.IntN(size+size/2+1))
				if rng.IntN(10) == 0 {
					names, kids = append(names, k), append(kids, nil)
					continue
				}
				names, kids = append(names, k), append(kids, Leaf(i))
				if _, dup := m.vals[k]; !dup {
					m.set(k, i)
					children[k] = Leaf(i)
				}
			}
			checkBranch(t, BranchOf(names, kids), m, names)
			checkBranch(t, Branch(children, m.order), m, names)
			// Keys missing from order follow sorted.
			sorted := slices.Sorted(func(yield func(string) bool) {
				for k := range children {
					if !yield(k) {
						return
					}
				}
			})
			ms := &orderModel{vals: m.vals, order: sorted}
			checkBranch(t, Branch(children, nil), ms, names)
		})
	}
}

// TestBigBranchOneCommit writes many keys into one big branch in a single
// commit (the in-place path of the build) and checks the result and that
// the previous version is untouched.
func TestBigBranchOneCommit(t *testing.T) {
	names := make([]string, 2000)
	kids := make([]*Node[int], len(names))
	m := &orderModel{vals: map[string]int{}}
	for i := range names {
		names[i] = "k" + strconv.Itoa(i)
		kids[i] = Leaf(i)
		m.set(names[i], i)
	}
	s, err := New(BranchOf([]string{"d"}, []*Node[int]{BranchOf(names, kids)}), Options[int]{KeepVersions: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := m.clone()
	after := m.clone()
	var ws []Write[int]
	for i := 0; i < len(names); i += 3 {
		k := names[i]
		if i%2 == 0 {
			ws = append(ws, Write[int]{Path: Path{"d", k}})
			after.del(k)
		} else {
			ws = append(ws, Write[int]{Path: Path{"d", k}, Node: Leaf(-i)})
			after.set(k, -i)
		}
	}
	for i := 0; i < 500; i++ {
		k := "n" + strconv.Itoa(i)
		ws = append(ws, Write[int]{Path: Path{"d", k}, Node: Leaf(10_000 + i)})
	}
	added := slices.Clone(ws[len(ws)-500:])
	// New keys of one commit go last in path order.
	slices.SortFunc(added, func(a, b Write[int]) int { return comparePaths(a.Path, b.Path) })
	for _, w := range added {
		after.set(w.Path[1], w.Node.Value())
	}
	if _, err := s.Commit(Commit[int]{Writes: ws}); err != nil {
		t.Fatal(err)
	}
	old, err := s.At(0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Release()
	d0, _ := old.Lookup(Path{"d"})
	checkBranch(t, d0, before, names)
	d1, _ := s.Snapshot().Lookup(Path{"d"})
	checkBranch(t, d1, after, names)
}
