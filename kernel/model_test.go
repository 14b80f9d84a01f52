package kernel

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// harness drives a State and a plain map model of it with a byte stream of
// operations and checks after every step that they agree and that values
// are released exactly once, and never while a live version reaches them.
type harness struct {
	t       testing.TB
	s       *State[int]
	tr      *tracker
	next    int
	model   map[string]int // every path in the head; branches are -1
	snaps   []snapModel
	adopted map[int]bool // values (and memos) the State took ownership of
	ops     []byte
	past    []pastVersion                           // the newest versions, oldest first; the last is the head
	stats   struct{ conflicts, commits, stale int } // stale: accepted commits that started before the head
}

// pastVersion is a version of the model and the paths its commit wrote.
type pastVersion struct {
	version Version
	model   map[string]int
	writes  []Path
}

// pastWindow is how many versions back a commit of the harness may start.
const pastWindow = 6

type snapModel struct {
	sn    *Snapshot[int]
	model map[string]int
}

const branchMark = -1

func newHarness(t testing.TB, ops []byte, keep int) *harness {
	h := &harness{t: t, tr: newTracker(), model: map[string]int{}, adopted: map[int]bool{}, ops: ops, next: 1}
	root := map[string]any{"a": map[string]any{"x": h.value()}, "b": map[string]any{}}
	s, err := New(tree(root), Options[int]{Release: h.tr.release, KeepVersions: keep, HistorySize: 4})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	h.model = flatten(s.head.Load().root)
	h.past = []pastVersion{{version: 0, model: h.model}}
	s.Snapshot() // a pin that is never released: Close must still release everything
	for _, v := range h.model {
		if v != branchMark {
			h.adopted[v] = true
		}
	}
	return h
}

func (h *harness) value() int { h.next++; return h.next - 1 }

func (h *harness) byte() byte {
	if len(h.ops) == 0 {
		return 0
	}
	b := h.ops[0]
	h.ops = h.ops[1:]
	return b
}

var segs = []string{"a", "b", "c"}

func (h *harness) path() Path {
	b := h.byte()
	n := int(b%3) + 1
	p := make(Path, n)
	for i := range p {
		p[i] = segs[int(b>>(2+2*i))%3]
	}
	return p
}

// flatten maps every path below n (not n itself) to its value, -1 for branches.
func flatten(n *Node[int]) map[string]int {
	out := map[string]int{}
	var walk func(prefix string, n *Node[int])
	walk = func(prefix string, n *Node[int]) {
		n.Range(func(name string, c *Node[int]) bool {
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			if c.IsLeaf() {
				out[p] = c.Value()
			} else {
				out[p] = branchMark
				walk(p, c)
			}
			return true
		})
	}
	walk("", n)
	return out
}

// subtree returns a new node for a write and its model entries relative to it.
func (h *harness) subtree(kind byte) (*Node[int], map[string]int) {
	if kind%2 == 0 {
		v := h.value()
		return Leaf(v), map[string]int{"": v}
	}
	kids := map[string]*Node[int]{}
	m := map[string]int{"": branchMark}
	for i := 0; i < int(kind/2%3); i++ {
		v := h.value()
		kids[segs[i]] = Leaf(v)
		m[segs[i]] = v
	}
	return Branch(kids, nil), m
}

type modelWrite struct {
	w   Write[int]
	sub map[string]int // nil for a delete
}

// expect applies writes to a copy of the model and returns it, or the code
// of the error the State must report.
func expect(model map[string]int, ws []modelWrite) (map[string]int, string) {
	for i := range ws {
		for j := range ws {
			if i != j && ws[i].w.Path.hasPrefix(ws[j].w.Path) {
				return nil, CodeOverlap
			}
		}
	}
	sorted := slices.Clone(ws)
	slices.SortFunc(sorted, func(a, b modelWrite) int { return comparePaths(a.w.Path, b.w.Path) })
	m := map[string]int{}
	for k, v := range model {
		m[k] = v
	}
	for _, mw := range sorted {
		p := mw.w.Path
		for i := 1; i < len(p); i++ {
			v, ok := m[p[:i].String()]
			if !ok && mw.sub == nil {
				return nil, CodeNotFound
			}
			if ok && v != branchMark {
				return nil, CodeNotABranch
			}
		}
		ps := p.String()
		if _, ok := m[ps]; !ok && mw.sub == nil {
			return nil, CodeNotFound
		}
		for k := range m {
			if k == ps || strings.HasPrefix(k, ps+".") {
				delete(m, k)
			}
		}
		for i := 1; i < len(p); i++ {
			m[p[:i].String()] = branchMark
		}
		for k, v := range mw.sub {
			if k == "" {
				m[ps] = v
			} else {
				m[ps+"."+k] = v
			}
		}
	}
	return m, ""
}

// conflictsSince is the conflict rule stated on plain maps and the write
// log: a declared path p changed after start when a later commit wrote a
// path at, above or below p, or created a branch on p's way down (a prefix
// of p that was missing before that commit).
func (h *harness) conflictsSince(start Version, declared []Path) []string {
	var out []string
	for _, p := range declared {
		if h.changedSince(start, p) {
			out = append(out, p.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (h *harness) changedSince(start Version, p Path) bool {
	for i := 1; i < len(h.past); i++ {
		prev, cur := h.past[i-1], h.past[i]
		if cur.version <= start {
			continue
		}
		for _, q := range cur.writes {
			if q.hasPrefix(p) || p.hasPrefix(q) {
				return true
			}
		}
		for k := 1; k <= len(p); k++ {
			pre := p[:k].String()
			_, before := prev.model[pre]
			_, after := cur.model[pre]
			if !before && after {
				return true
			}
		}
	}
	return false
}

func (h *harness) step() {
	op := h.byte()
	switch op % 9 {
	case 0, 1, 2, 3, 4:
		n := 1 + int(op/9%3)
		var ws []modelWrite
		for i := 0; i < n; i++ {
			p := h.path()
			kind := h.byte()
			if kind%5 == 0 {
				ws = append(ws, modelWrite{w: Write[int]{Path: p}})
				continue
			}
			node, sub := h.subtree(kind)
			ws = append(ws, modelWrite{w: Write[int]{Path: p, Node: node}, sub: sub})
		}
		want, code := expect(h.model, ws)
		back := 0
		if h.byte()%2 == 1 {
			back = 1 + int(op/27)%pastWindow
		}
		if back >= len(h.past) {
			back = len(h.past) - 1
		}
		req := Commit[int]{Start: h.past[len(h.past)-1-back].version}
		for _, mw := range ws {
			req.Writes = append(req.Writes, mw.w)
		}
		if op&0x80 != 0 {
			req.Reads = append(req.Reads, h.path())
		}
		declared := writePaths(req.Writes)
		declared = append(declared, req.Reads...)
		before := h.s.Version()
		prev := h.s.Snapshot()
		defer prev.Release()
		v, err := h.s.Commit(req)
		if code == CodeOverlap {
			var pe *PathError
			if !errors.As(err, &pe) || pe.Code != code {
				h.t.Fatalf("commit %v: error %v, want code %s", req.Writes, err, code)
			}
			return
		}
		if paths := h.conflictsSince(req.Start, declared); len(paths) > 0 {
			var ce *ConflictError
			if !errors.As(err, &ce) || !slices.Equal(ce.Paths, paths) || ce.Expected != req.Start || ce.Actual != before {
				h.t.Fatalf("commit from %d at %d of %v (reads %v): error %v, want a conflict on %v", req.Start, before, req.Writes, req.Reads, err, paths)
			}
			if h.s.Version() != before {
				h.t.Fatal("rejected commit changed the version")
			}
			h.stats.conflicts++
			return
		}
		if code != "" {
			var pe *PathError
			if !errors.As(err, &pe) || pe.Code != code {
				h.t.Fatalf("commit %v: error %v, want code %s", req.Writes, err, code)
			}
			if h.s.Version() != before {
				h.t.Fatal("failed commit changed the version")
			}
			return
		}
		if err != nil || v != before+1 {
			h.t.Fatalf("commit %v = %d, %v", req.Writes, v, err)
		}
		h.model = want
		h.stats.commits++
		head := h.s.Snapshot()
		got := map[string]string{}
		for _, c := range Diff(prev.Root(), head.Root()) {
			got[c.Path] = c.Kind.String()
		}
		if exp := flatDiff(prev.Root(), head.Root()); !mapsEqualS(got, exp) {
			h.t.Fatalf("Diff after %v = %v, want %v", req.Writes, got, exp)
		}
		head.Release()
		if req.Start < before {
			h.stats.stale++
		}
		h.past = append(h.past, pastVersion{version: v, model: want, writes: writePaths(req.Writes)})
		if len(h.past) > pastWindow+1 {
			h.past = h.past[1:]
		}
		for _, mw := range ws {
			for _, val := range mw.sub {
				if val != branchMark {
					h.adopted[val] = true
				}
			}
		}
	case 5, 6:
		if len(h.snaps) >= 12 {
			h.snaps[0].sn.Release()
			h.snaps = h.snaps[1:]
		}
		sn := h.s.Snapshot()
		h.snaps = append(h.snaps, snapModel{sn: sn, model: flatten(sn.Root())})
		if !mapsEqual(h.snaps[len(h.snaps)-1].model, h.model) {
			h.t.Fatal("new snapshot differs from the model")
		}
	case 7:
		if len(h.snaps) == 0 {
			return
		}
		i := int(h.byte()) % len(h.snaps)
		h.snaps[i].sn.Release()
		h.snaps[i].sn.Release() // idempotent
		h.snaps = slices.Delete(h.snaps, i, i+1)
	case 8:
		// Attach a memo to a branch of the head.
		root := h.s.Snapshot()
		defer root.Release()
		n, err := root.Lookup(h.path()[:1])
		if err != nil || n.IsLeaf() {
			n = root.Root()
		}
		m := h.value()
		if _, ok := n.SetMemo(m); ok {
			h.adopted[m] = true
		}
	}
}

// check verifies the model and the release invariants.
func (h *harness) check() {
	h.t.Helper()
	head := h.s.Snapshot()
	defer head.Release()
	if got := flatten(head.Root()); !mapsEqual(got, h.model) {
		h.t.Fatalf("head = %v\nmodel = %v", got, h.model)
	}
	h.tr.mu.Lock()
	defer h.tr.mu.Unlock()
	for v, c := range h.tr.released {
		if c != 1 || !h.adopted[v] {
			h.t.Fatalf("value %d released %d times (adopted %v)", v, c, h.adopted[v])
		}
	}
	live := func(n *Node[int]) {
		var walk func(n *Node[int])
		walk = func(n *Node[int]) {
			if n.IsLeaf() {
				if h.tr.released[n.Value()] != 0 {
					h.t.Fatalf("value %d released while reachable", n.Value())
				}
				return
			}
			if m, ok := n.Memo(); ok && h.tr.released[m] != 0 {
				h.t.Fatalf("memo %d released while reachable", m)
			}
			n.Range(func(_ string, c *Node[int]) bool { walk(c); return true })
		}
		walk(n)
	}
	live(h.s.head.Load().root)
	for _, sm := range h.snaps {
		if got := flatten(sm.sn.Root()); !mapsEqual(got, sm.model) {
			h.t.Fatalf("snapshot %d changed: %v, want %v", sm.sn.Version(), got, sm.model)
		}
		live(sm.sn.Root())
	}
}

// finish releases the snapshots, checks that everything unreachable was
// released, closes the State and checks that everything was released once.
func (h *harness) finish() {
	for _, sm := range h.snaps {
		sm.sn.Release()
	}
	h.snaps = nil
	st := h.s.Stats()
	if st.Snapshots != 1 {
		h.t.Fatalf("Stats.Snapshots = %d, want 1", st.Snapshots)
	}
	h.s.Close()
	h.check2()
}

func (h *harness) check2() {
	h.tr.mu.Lock()
	defer h.tr.mu.Unlock()
	for v := range h.adopted {
		if h.tr.released[v] != 1 {
			h.t.Fatalf("after Close value %d released %d times", v, h.tr.released[v])
		}
	}
	if len(h.tr.released) != len(h.adopted) {
		h.t.Fatalf("released %d values, adopted %d", len(h.tr.released), len(h.adopted))
	}
	if st := h.s.Stats(); st.Pending != 0 || st.PinnedVersions != 0 {
		h.t.Fatalf("Stats after Close = %+v", st)
	}
}

func runModel(t testing.TB, ops []byte, keep int) *harness {
	h := newHarness(t, ops, keep)
	for len(h.ops) > 0 {
		h.step()
		h.check()
	}
	h.finish()
	return h
}

func TestModelRandom(t *testing.T) {
	for _, keep := range []int{0, 1, 3} {
		for seed := uint64(1); seed <= 20; seed++ {
			r := rand.New(rand.NewPCG(seed, uint64(keep)))
			ops := make([]byte, 6000)
			for i := range ops {
				ops[i] = byte(r.Uint32())
			}
			h := runModel(t, ops, keep)
			// The run must have exercised commits, releases and memos.
			if h.s.Version() < 100 || len(h.adopted) < 150 || h.tr.total() != len(h.adopted) {
				t.Fatalf("seed %d: version %d, %d values adopted: the run did too little", seed, h.s.Version(), len(h.adopted))
			}
			t.Logf("seed %d keep %d: %+v", seed, keep, h.stats)
			if h.stats.conflicts < 10 || h.stats.commits < 100 || h.stats.stale < 10 {
				t.Fatalf("seed %d: %+v: the run did too little", seed, h.stats)
			}
		}
	}
}

func FuzzCommit(f *testing.F) {
	f.Add([]byte{0, 1, 2, 5, 0, 3, 1, 7, 0, 8, 1})
	f.Add([]byte{9, 4, 4, 18, 5, 0, 26, 8, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte("commit snapshot release memo delete"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 1024 {
			ops = ops[:1024]
		}
		keep := 0
		if len(ops) > 0 {
			keep = int(ops[0] % 3)
		}
		runModel(t, ops, keep)
	})
}
