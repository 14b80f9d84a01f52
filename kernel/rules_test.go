package kernel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// at returns the path "domain" followed by depth-1 segments s1, s2, ... and
// last: at(1, "k") is "k" below the zone itself (a zone name), at(3, "k")
// is "domain.s1.k".
func at(depth int, last string) Path {
	if depth == 1 {
		return Path{last}
	}
	p := Path{"domain"}
	for i := 1; i < depth-1; i++ {
		p = append(p, "s"+strconv.Itoa(i))
	}
	return append(p, last)
}

// nested builds the tree that holds every path at(depth, name) for names.
func nested(depth int, leaves map[string]int) map[string]any {
	m := map[string]any{}
	for k, v := range leaves {
		m[k] = v
	}
	for d := depth - 1; d >= 1; d-- {
		name := "domain"
		if d > 1 {
			name = "s" + strconv.Itoa(d-1)
		}
		m = map[string]any{name: m}
	}
	return m
}

// TestMissingPathConflictRule checks, at depths 1 to 4, that a missing
// path conflicts exactly when that child (or a branch on its way) was
// created, removed or replaced after the start version.
func TestMissingPathConflictRule(t *testing.T) {
	type step struct {
		path  func(d int) Path
		node  func() *Node[int] // nil deletes
		after bool              // committed after the writer's start
	}
	sib := func(d int) Path { return at(d, "a") }
	me := func(d int) Path { return at(d, "b") }
	parent := func(d int) Path { return at(d, "b")[:d-1] }
	leaf := func() *Node[int] { return Leaf(7) }
	tests := []struct {
		name     string
		minDepth int
		steps    []step
		reads    bool // declare the path as a read instead of writing it
		conflict bool
	}{
		{"sibling inserted", 1, []step{{sib, leaf, true}}, false, false},
		{"sibling inserted, read", 1, []step{{sib, leaf, true}}, true, false},
		{"sibling removed", 1, []step{{sib, leaf, false}, {sib, nil, true}}, false, false},
		{"sibling replaced", 1, []step{{sib, leaf, false}, {sib, leaf, true}}, false, false},
		{"many siblings churn", 1, []step{{sib, leaf, true}, {sib, nil, true}, {sib, leaf, true}}, false, false},
		{"the child inserted", 1, []step{{me, leaf, true}}, false, true},
		{"the child removed", 1, []step{{me, leaf, false}, {me, nil, true}}, false, true},
		{"the child removed, read", 1, []step{{me, leaf, false}, {me, nil, true}}, true, true},
		{"the child inserted and removed", 1, []step{{me, leaf, true}, {me, nil, true}}, false, true},
		{"the child removed before start", 1, []step{{me, leaf, false}, {me, nil, false}, {sib, leaf, true}}, false, false},
		{"parent replaced by a leaf", 2, []step{{sib, leaf, false}, {parent, leaf, true}}, false, true},
		{"parent removed", 2, []step{{sib, leaf, false}, {parent, nil, true}}, false, true},
		{"parent replaced by a branch", 2, []step{{sib, leaf, false}, {parent, func() *Node[int] { return Branch[int](nil, nil) }, true}}, false, true},
		{"parent created", 2, []step{{sib, leaf, true}}, false, true},
		{"parent a leaf since before start", 2, []step{{parent, leaf, false}, {func(int) Path { return Path{"other"} }, leaf, true}}, true, false},
	}
	for _, tt := range tests {
		for d := max(tt.minDepth, 1); d <= 4; d++ {
			t.Run(fmt.Sprintf("%s/depth%d", tt.name, d), func(t *testing.T) {
				root := map[string]any{"other": 0}
				if d > 1 && tt.name != "parent created" {
					root = nested(d, map[string]int{"z": 1})
					root["other"] = 0
				}
				s := newState(t, root, Options[int]{})
				start := Version(0)
				for i, st := range tt.steps {
					if st.after && (i == 0 || !tt.steps[i-1].after) {
						start = s.Version()
					}
					w := Write[int]{Path: st.path(d)}
					if st.node != nil {
						w.Node = st.node()
					}
					if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{w}}); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				if start == s.Version() {
					t.Fatal("nothing was committed after the start version")
				}
				req := Commit[int]{Start: start}
				if tt.reads {
					req.Reads = []Path{me(d)}
					req.Writes = []Write[int]{{Path: Path{"unrelated"}, Node: Leaf(1)}}
				} else {
					req.Writes = []Write[int]{{Path: me(d), Node: Leaf(1)}}
				}
				_, err := s.Commit(req)
				var ce *ConflictError
				switch {
				case tt.conflict && (!errors.As(err, &ce) || !slices.Equal(ce.Paths, []string{me(d).String()})):
					t.Fatalf("error %v, want a conflict on %s", err, me(d))
				case !tt.conflict && err != nil:
					var pe *PathError
					if tt.name == "parent a leaf since before start" && errors.As(err, &pe) {
						return // no conflict: the read of a path below an old leaf is fine
					}
					t.Fatalf("error %v, want none", err)
				}
			})
		}
	}
}

// TestGravesAreBounded removes far more children of one branch than it
// remembers: the record stays bounded, a writer that started after the
// forgotten removals still inserts without conflict, and one that started
// before them conflicts (it cannot be told apart).
func TestGravesAreBounded(t *testing.T) {
	s := newState(t, map[string]any{"outbox": map[string]any{}}, Options[int]{})
	const n = 5 * maxGraves
	for i := 0; i < n; i++ {
		p := Path{"outbox", "m" + strconv.Itoa(i)}
		if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{{Path: p, Node: Leaf(i)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{{Path: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	box, _ := s.head.Load().root.Child("outbox")
	if box.br.gone == nil || box.br.gone.names.Len() > maxGraves || box.br.gone.names.Len() < maxGraves/2 || box.br.gone.floor == 0 {
		t.Fatalf("graves: %d remembered, floor %d", box.br.gone.names.Len(), box.br.gone.floor)
	}
	head := s.Version()
	// Started one commit ago: the last removal is remembered.
	if _, err := s.Commit(Commit[int]{Start: head - 1, Writes: []Write[int]{{Path: Path{"outbox", "new"}, Node: Leaf(1)}}}); err != nil {
		t.Fatalf("recent writer: %v", err)
	}
	recent := Path{"outbox", "m" + strconv.Itoa(n-1)}
	if _, err := s.Commit(Commit[int]{Start: head - 1, Writes: []Write[int]{{Path: recent, Node: Leaf(1)}}}); err == nil {
		t.Fatal("writing back a child removed after the start did not conflict")
	}
	// Started before everything that was forgotten: conservatively a conflict.
	var ce *ConflictError
	if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{{Path: Path{"outbox", "other"}, Node: Leaf(1)}}}); !errors.As(err, &ce) {
		t.Fatalf("writer older than the record: %v, want a conflict", err)
	}
	// Re-creating a name drops its grave.
	if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{{Path: recent, Node: Leaf(2)}}}); err != nil {
		t.Fatal(err)
	}
	box, _ = s.head.Load().root.Child("outbox")
	if _, ok := box.br.gone.names.Get(recent[1]); ok {
		t.Fatal("a re-created child keeps its grave")
	}
}

// TestConcurrentDisjointInserts inserts distinct new keys into one branch
// from several goroutines; each round all of them read the same version and
// then commit from it, so all but one start from a stale version: none
// conflicts, and every key is there. Run it with -race.
func TestConcurrentDisjointInserts(t *testing.T) {
	const workers, perWorker = 4, 300
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"users": map[string]any{}}}, Options[int]{Release: tr.release})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stale := 0 // commits that started before the head they committed on
	read, commit := newBarrier(workers), newBarrier(workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				read.wait()
				start := s.Version()
				commit.wait()
				key := fmt.Sprintf("w%d_%d", w, i)
				v, err := s.Commit(Commit[int]{Start: start, Reads: []Path{{"domain", "users", key}},
					Writes: []Write[int]{{Path: Path{"domain", "users", key}, Node: Leaf(w*perWorker + i)}}})
				if err != nil {
					t.Errorf("worker %d insert %d: %v", w, i, err)
					continue // keep meeting the others at the barriers
				}
				if v > start+1 {
					mu.Lock()
					stale++
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	if s.Version() != workers*perWorker {
		t.Fatalf("version %d, want %d", s.Version(), workers*perWorker)
	}
	sn := s.Snapshot()
	defer sn.Release()
	users, err := sn.Lookup(Path{"domain", "users"})
	if err != nil || users.Len() != workers*perWorker {
		t.Fatalf("users: %v, %d keys", err, users.Len())
	}
	if stale != (workers-1)*perWorker {
		t.Fatalf("%d stale commits, want %d: the workers did not race", stale, (workers-1)*perWorker)
	}
}

// barrier lets n goroutines wait for each other, round after round.
type barrier struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	count int
	round int
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	round := b.round
	b.count++
	if b.count == b.n {
		b.count = 0
		b.round++
		b.cond.Broadcast()
		return
	}
	for round == b.round {
		b.cond.Wait()
	}
}

// TestConcurrentInsertDeleteSameChild races inserts and deletes of one key:
// each round every goroutine reads the same version, then all commit from
// it. Exactly one commit per round wins; the others are conflicts on that
// key. Run it with -race.
func TestConcurrentInsertDeleteSameChild(t *testing.T) {
	const workers, rounds = 4, 200
	s := newState(t, map[string]any{"domain": map[string]any{"users": map[string]any{"other": 0}}}, Options[int]{})
	p := Path{"domain", "users", "x"}
	read, commit := newBarrier(workers), newBarrier(workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				read.wait()
				sn := s.Snapshot()
				start := sn.Version()
				_, missing := sn.Lookup(p)
				sn.Release()
				commit.wait()
				w := Write[int]{Path: p}
				if missing != nil {
					w.Node = Leaf(i)
				}
				_, err := s.Commit(Commit[int]{Start: start, Writes: []Write[int]{w}})
				var ce *ConflictError
				switch {
				case errors.As(err, &ce):
					if !slices.Equal(ce.Paths, []string{"domain.users.x"}) {
						t.Errorf("conflict on %v", ce.Paths)
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					t.Errorf("commit: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if conflicts != rounds*(workers-1) || s.Version() != rounds {
		t.Fatalf("%d conflicts, version %d; want %d and %d", conflicts, s.Version(), rounds*(workers-1), rounds)
	}
}

// TestKeysMustBeAddressable refuses empty and dotted child names at every
// depth, in New and in Commit, leaving ownership with the caller.
func TestKeysMustBeAddressable(t *testing.T) {
	for _, bad := range []string{"", "a.b", ".", "a.", ".a", "x..y"} {
		for depth := 1; depth <= 4; depth++ {
			t.Run(fmt.Sprintf("%q/depth%d", bad, depth), func(t *testing.T) {
				// A tree whose deepest branch holds the bad key.
				n := Branch(map[string]*Node[int]{bad: Leaf(1), "ok": Leaf(2)}, []string{"ok", bad})
				var where []string
				for d := depth; d > 1; d-- {
					name := "k" + strconv.Itoa(d)
					n = Branch(map[string]*Node[int]{name: n}, nil)
					where = append([]string{name}, where...)
				}
				_, err := New(Branch(map[string]*Node[int]{"domain": n}, nil), Options[int]{})
				var ke *KeyError
				if !errors.As(err, &ke) || ke.Key != bad || ke.Path != strings.Join(append([]string{"domain"}, where...), ".") {
					t.Fatalf("New: %v, want a KeyError for %q in domain.%v", err, bad, where)
				}
				if n.owned {
					t.Fatal("refused tree stays owned")
				}
				s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{})
				_, err = s.Commit(Commit[int]{Writes: []Write[int]{{Path: Path{"domain", "w"}, Node: n}}})
				if !errors.As(err, &ke) || ke.Key != bad || ke.Path != strings.Join(append([]string{"domain", "w"}, where...), ".") {
					t.Fatalf("Commit: %v, want a KeyError for %q", err, bad)
				}
				if n.owned || s.Version() != 0 {
					t.Fatal("refused commit changed something")
				}
				// The same tree without the bad key commits.
				if _, err := s.Commit(Commit[int]{Writes: []Write[int]{{Path: Path{"domain", "w"}, Node: Leaf(3)}}}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	if _, err := New(Branch(map[string]*Node[int]{"a.b": Branch[int](nil, nil)}, nil), Options[int]{}); err == nil {
		t.Fatal("a dotted zone name was accepted")
	}
	s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{})
	var pe *PathError
	if _, err := s.Commit(Commit[int]{Writes: []Write[int]{{Path: Path{"domain", "a.b"}, Node: Leaf(1)}}}); !errors.As(err, &pe) || pe.Code != CodeMalformed {
		t.Fatalf("a dotted path segment: %v", err)
	}
	if _, err := s.Commit(Commit[int]{Reads: []Path{{"domain", "a.b"}}}); !errors.As(err, &pe) || pe.Code != CodeMalformed {
		t.Fatalf("a dotted read segment: %v", err)
	}
}

// flatDiff is Diff stated on flattened trees: every path of either tree
// with its node; a terminal (leaf or empty branch) present on one side only
// is added or removed unless a leaf above it on the other side already
// reports the path as changed; a path with a leaf on one side and anything
// else on the other is changed.
func flatDiff(a, b *Node[int]) map[string]string {
	flat := func(n *Node[int]) map[string]*Node[int] {
		out := map[string]*Node[int]{}
		var walk func(prefix string, n *Node[int])
		walk = func(prefix string, n *Node[int]) {
			n.Range(func(name string, c *Node[int]) bool {
				p := name
				if prefix != "" {
					p = prefix + "." + name
				}
				out[p] = c
				walk(p, c)
				return true
			})
		}
		if n != nil {
			walk("", n)
		}
		return out
	}
	fa, fb := flat(a), flat(b)
	underLeaf := func(p string, f map[string]*Node[int]) bool {
		for i := strings.LastIndexByte(p, '.'); i > 0; i = strings.LastIndexByte(p[:i], '.') {
			if n, ok := f[p[:i]]; ok && n.IsLeaf() {
				return true
			}
		}
		return false
	}
	terminal := func(n *Node[int]) bool { return n.IsLeaf() || n.Len() == 0 }
	out := map[string]string{}
	for p, nb := range fb {
		na, ok := fa[p]
		switch {
		case !ok && terminal(nb) && !underLeaf(p, fa):
			out[p] = "added"
		case ok && na != nb && (na.IsLeaf() || nb.IsLeaf()):
			out[p] = "changed"
		}
	}
	for p, na := range fa {
		if _, ok := fb[p]; !ok && terminal(na) && !underLeaf(p, fb) {
			out[p] = "removed"
		}
	}
	return out
}

// TestDiffModel compares Diff with flatDiff over random commits (leaves,
// empty and full branches, deletes, leaf<->branch swaps at depths 1 to 4).
func TestDiffModel(t *testing.T) {
	names := []string{"a", "b", "c"}
	for seed := uint64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{KeepVersions: 1})
		seen := map[string]int{}
		next := 0
		for i := 0; i < 300; i++ {
			p := Path{"domain"}
			for d := r.IntN(4); d > 0; d-- {
				p = append(p, names[r.IntN(3)])
			}
			w := Write[int]{Path: p}
			switch r.IntN(5) {
			case 0:
				if len(p) == 1 {
					continue
				}
			case 1:
				w.Node = Branch[int](nil, nil)
			case 2:
				next++
				w.Node = Branch(map[string]*Node[int]{names[r.IntN(3)]: Leaf(next), "x": Branch[int](nil, nil)}, nil)
			default:
				next++
				w.Node = Leaf(next)
			}
			before := s.Snapshot()
			if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{w}}); err != nil {
				before.Release()
				continue // not found, not a branch: nothing to compare
			}
			after := s.Snapshot()
			got := map[string]string{}
			for _, c := range Diff(before.Root(), after.Root()) {
				if _, dup := got[c.Path]; dup {
					t.Fatalf("seed %d: %s reported twice", seed, c.Path)
				}
				got[c.Path] = c.Kind.String()
				if (c.Kind == Added) != (c.Old == nil) || (c.Kind == Removed) != (c.New == nil) {
					t.Fatalf("seed %d: %+v has the wrong sides", seed, c)
				}
				seen[c.Kind.String()]++
			}
			for _, pair := range [][2]*Node[int]{{before.Root(), after.Root()}, {after.Root(), before.Root()}, {nil, after.Root()}} {
				got := map[string]string{}
				for _, c := range Diff(pair[0], pair[1]) {
					got[c.Path] = c.Kind.String()
				}
				if want := flatDiff(pair[0], pair[1]); !mapsEqualS(got, want) {
					t.Fatalf("seed %d step %d (%v): Diff = %v, want %v", seed, i, p, got, want)
				}
			}
			before.Release()
			after.Release()
		}
		if seen["added"] == 0 || seen["removed"] == 0 || seen["changed"] == 0 {
			t.Fatalf("seed %d: kinds seen %v", seed, seen)
		}
	}
}

func mapsEqualS(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDiffKinds names the decided report for each kind of change at depths
// 1 to 4.
func TestDiffKinds(t *testing.T) {
	empty := func() *Node[int] { return Branch[int](nil, nil) }
	full := func() *Node[int] { return Branch(map[string]*Node[int]{"k": Leaf(5)}, nil) }
	leaf := func() *Node[int] { return Leaf(9) }
	tests := []struct {
		name   string
		before func() *Node[int] // nil: absent
		after  func() *Node[int] // nil: absent
		want   []string          // "kind path-suffix"
	}{
		{"leaf added", nil, leaf, []string{"added "}},
		{"leaf removed", leaf, nil, []string{"removed "}},
		{"leaf changed", func() *Node[int] { return Leaf(1) }, leaf, []string{"changed "}},
		{"empty branch added", nil, empty, []string{"added "}},
		{"empty branch removed", empty, nil, []string{"removed "}},
		{"branch added", nil, full, []string{"added .k"}},
		{"branch removed", full, nil, []string{"removed .k"}},
		{"leaf to branch", leaf, full, []string{"changed "}},
		{"branch to leaf", full, leaf, []string{"changed "}},
		{"leaf to empty branch", leaf, empty, []string{"changed "}},
		{"empty branch to leaf", empty, leaf, []string{"changed "}},
		{"empty to full branch", empty, full, []string{"added .k"}},
		{"full to empty branch", full, empty, []string{"removed .k"}},
		{"empty branch replaced by an empty branch", empty, empty, nil},
	}
	for _, tt := range tests {
		for d := 1; d <= 4; d++ {
			t.Run(fmt.Sprintf("%s/depth%d", tt.name, d), func(t *testing.T) {
				p := at(d, "v")
				if d == 1 {
					p = Path{"zone"}
				}
				s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{KeepVersions: 2})
				if tt.before != nil {
					if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{{Path: p, Node: tt.before()}}}); err != nil {
						t.Fatal(err)
					}
				}
				a := s.Snapshot()
				defer a.Release()
				w := Write[int]{Path: p}
				if tt.after != nil {
					w.Node = tt.after()
				}
				if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: []Write[int]{w}}); err != nil {
					t.Fatal(err)
				}
				b := s.Snapshot()
				defer b.Release()
				var got []string
				for _, c := range Diff(a.Root(), b.Root()) {
					if !strings.HasPrefix(c.Path, p.String()) {
						continue // a branch created on the way (absent before)
					}
					got = append(got, c.Kind.String()+" "+strings.TrimPrefix(c.Path, p.String()))
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("Diff = %v, want %v", got, tt.want)
				}
			})
		}
	}
}

// TestDeepPaths writes, reads, conflict-checks, diffs, lists and closes a
// path of 100,000 segments and a tree nested as deep, with no recursion on
// the Go stack that depends on the depth (linear time is measured by
// BenchmarkDeep).
func TestDeepPaths(t *testing.T) {
	const depth = 100_000
	p := make(Path, depth)
	p[0] = "domain"
	for i := 1; i < depth; i++ {
		p[i] = "a"
	}
	parsed, err := ParsePath(p.String())
	if err != nil || len(parsed) != depth {
		t.Fatalf("ParsePath: %v, %d segments", err, len(parsed))
	}
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{Release: tr.release, KeepVersions: 2})
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{{Path: p, Node: Leaf(1)}}}); err != nil {
		t.Fatal(err)
	}
	// A nested tree as deep, written beside it.
	n := Leaf(2)
	for i := 0; i < depth; i++ {
		n = Branch(map[string]*Node[int]{"b": n}, nil)
	}
	if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{{Path: Path{"domain", "deep"}, Node: n}}}); err != nil {
		t.Fatal(err)
	}
	// A stale writer on the deep path conflicts; one below it does too.
	var ce *ConflictError
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{{Path: p, Node: Leaf(3)}}}); !errors.As(err, &ce) {
		t.Fatalf("stale deep write: %v", err)
	}
	sn := s.Snapshot()
	if got := lookupValue(t, sn, p.String()); got != 1 {
		t.Fatalf("deep value %d", got)
	}
	sn.Release()
	a, _ := s.At(0)
	b, _ := s.At(2)
	changes := Diff(a.Root(), b.Root())
	a.Release()
	b.Release()
	if len(changes) != 2 || changes[0].Path != p.String() || changes[0].Kind != Added {
		t.Fatalf("Diff: %d changes", len(changes))
	}
	if h := s.History(); len(h) != 2 || h[0].Paths[0] != p.String() {
		t.Fatal("history lost the deep path")
	}
	s.Close()
	if tr.count(1) != 1 || tr.count(2) != 1 {
		t.Fatal("deep values not released once")
	}
}
