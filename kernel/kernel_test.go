package kernel

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
)

// tracker counts Release calls per value.
type tracker struct {
	mu       sync.Mutex
	released map[int]int
}

func newTracker() *tracker { return &tracker{released: map[int]int{}} }

func (tr *tracker) release(v int) {
	tr.mu.Lock()
	tr.released[v]++
	tr.mu.Unlock()
}

func (tr *tracker) count(v int) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.released[v]
}

func (tr *tracker) total() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, c := range tr.released {
		n += c
	}
	return n
}

// checkOnce fails if any value was released more than once.
func (tr *tracker) checkOnce(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for v, c := range tr.released {
		if c != 1 {
			t.Fatalf("value %d released %d times", v, c)
		}
	}
}

func mustPath(t testing.TB, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tree builds a tree from a nested map[string]any of ints.
func tree(m map[string]any) *Node[int] {
	kids := map[string]*Node[int]{}
	for k, v := range m {
		switch x := v.(type) {
		case int:
			kids[k] = Leaf(x)
		case map[string]any:
			kids[k] = tree(x)
		default:
			panic(fmt.Sprintf("bad tree value %T", v))
		}
	}
	return Branch(kids, nil)
}

// leaves flattens a tree into path -> value.
func leaves(n *Node[int]) map[string]int {
	out := map[string]int{}
	var walk func(prefix string, n *Node[int])
	walk = func(prefix string, n *Node[int]) {
		if n.IsLeaf() {
			out[prefix] = n.Value()
			return
		}
		n.Range(func(name string, c *Node[int]) bool {
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			walk(p, c)
			return true
		})
	}
	walk("", n)
	return out
}

func newState(t testing.TB, m map[string]any, opts Options[int]) *State[int] {
	t.Helper()
	s, err := New(tree(m), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func set(t testing.TB, path string, v int) Write[int] {
	return Write[int]{Path: mustPath(t, path), Node: Leaf(v)}
}

func del(t testing.TB, path string) Write[int] {
	return Write[int]{Path: mustPath(t, path)}
}

func lookupValue(t testing.TB, sn *Snapshot[int], path string) int {
	t.Helper()
	n, err := sn.Lookup(mustPath(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if !n.IsLeaf() {
		t.Fatalf("%s is a branch", path)
	}
	return n.Value()
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		code string
	}{
		{in: "domain", want: Path{"domain"}},
		{in: "domain.user.name", want: Path{"domain", "user", "name"}},
		{in: "a b.c-d", want: Path{"a b", "c-d"}},
		{in: "", code: CodeEmpty},
		{in: ".a", code: CodeMalformed},
		{in: "a..b", code: CodeMalformed},
		{in: "a.", code: CodeMalformed},
		{in: ".", code: CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if tt.code != "" {
				var pe *PathError
				if !errors.As(err, &pe) || pe.Code != tt.code {
					t.Fatalf("ParsePath(%q) error = %v, want code %q", tt.in, err, tt.code)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParsePath(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestNodeBasics(t *testing.T) {
	b := Branch(map[string]*Node[int]{"z": Leaf(1), "a": Leaf(2), "m": Leaf(3)}, []string{"m", "z"})
	var names []string
	b.Range(func(name string, c *Node[int]) bool {
		names = append(names, name)
		return true
	})
	if want := []string{"m", "z", "a"}; !slices.Equal(names, want) {
		t.Fatalf("Range order = %v, want %v", names, want)
	}
	if b.Len() != 3 || b.IsLeaf() || b.Value() != 0 {
		t.Fatalf("branch: Len=%d IsLeaf=%v Value=%d", b.Len(), b.IsLeaf(), b.Value())
	}
	l := Leaf(7)
	if !l.IsLeaf() || l.Value() != 7 || l.Len() != 0 {
		t.Fatal("leaf accessors wrong")
	}
	if _, ok := l.SetMemo(1); ok {
		t.Fatal("SetMemo on a leaf succeeded")
	}
	if v, ok := b.SetMemo(10); !ok || v != 10 {
		t.Fatalf("first SetMemo = %d, %v", v, ok)
	}
	if v, ok := b.SetMemo(11); ok || v != 10 {
		t.Fatalf("second SetMemo = %d, %v; want 10, false", v, ok)
	}
	if v, ok := b.Memo(); !ok || v != 10 {
		t.Fatalf("Memo = %d, %v", v, ok)
	}
	stop := 0
	b.Range(func(string, *Node[int]) bool { stop++; return false })
	if stop != 1 {
		t.Fatalf("Range did not stop: %d calls", stop)
	}
}

func TestLookupErrors(t *testing.T) {
	root := tree(map[string]any{"domain": map[string]any{"x": 1, "user": map[string]any{"name": 2}}})
	tests := []struct {
		path, code, at string
	}{
		{"domain.y", CodeNotFound, "domain.y"},
		{"domain.user.age.years", CodeNotFound, "domain.user.age"},
		{"global.limit", CodeNotFound, "global"},
		{"domain.x.y", CodeNotABranch, "domain.x"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := root.Lookup(mustPath(t, tt.path))
			var pe *PathError
			if !errors.As(err, &pe) || pe.Code != tt.code || pe.Path != tt.at {
				t.Fatalf("Lookup(%s) error = %#v, want code %s at %s", tt.path, err, tt.code, tt.at)
			}
		})
	}
	n, err := root.Lookup(mustPath(t, "domain.user.name"))
	if err != nil || n.Value() != 2 {
		t.Fatalf("Lookup = %v, %v", n, err)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Leaf(1), Options[int]{}); err == nil {
		t.Fatal("New accepted a leaf root")
	}
	shared := Leaf(1)
	root := Branch(map[string]*Node[int]{"a": shared, "b": shared}, nil)
	var pe *PathError
	if _, err := New(root, Options[int]{}); !errors.As(err, &pe) || pe.Code != CodeReused {
		t.Fatalf("New with a shared node: %v", err)
	}
	if shared.owned || root.owned {
		t.Fatal("failed New left nodes owned")
	}
	s, err := New[int](nil, Options[int]{})
	if err != nil || s.Version() != 0 || s.Snapshot().Root().Len() != 0 {
		t.Fatalf("New(nil) = %v, %v", s, err)
	}
}

func TestCommitValidation(t *testing.T) {
	base := map[string]any{"domain": map[string]any{"x": 1, "user": map[string]any{"name": 2}}}
	committed := func(s *State[int]) *Node[int] {
		n, _ := s.Snapshot().Lookup(Path{"domain", "x"})
		return n
	}
	fresh := Leaf(5)
	tests := []struct {
		name   string
		req    func(s *State[int]) Commit[int]
		code   string // PathError code; "" means VersionError
		atPath string
	}{
		{"empty write path", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{{Path: nil, Node: Leaf(1)}}}
		}, CodeEmpty, ""},
		{"empty segment", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{{Path: Path{"domain", ""}, Node: Leaf(1)}}}
		}, CodeMalformed, "domain."},
		{"malformed read", func(*State[int]) Commit[int] {
			return Commit[int]{Reads: []Path{{"", "x"}}}
		}, CodeMalformed, ".x"},
		{"overlap prefix", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{set(t, "domain.user.name", 1), set(t, "domain.user", 2)}}
		}, CodeOverlap, "domain.user.name"},
		{"overlap equal", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{set(t, "domain.x", 1), del(t, "domain.x")}}
		}, CodeOverlap, "domain.x"},
		{"overlap with sibling between", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{set(t, "a.b.c", 1), set(t, "a.b", 2), set(t, "a.a", 3)}}
		}, CodeOverlap, "a.b.c"},
		{"through a leaf", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{set(t, "domain.x.y", 1)}}
		}, CodeNotABranch, "domain.x"},
		{"delete through a leaf", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{del(t, "domain.x.y")}}
		}, CodeNotABranch, "domain.x"},
		{"delete missing", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{del(t, "domain.nope")}}
		}, CodeNotFound, "domain.nope"},
		{"delete missing parent", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{del(t, "nozone.a.b")}}
		}, CodeNotFound, "nozone"},
		{"reused committed node", func(s *State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{{Path: mustPath(t, "domain.y"), Node: committed(s)}}}
		}, CodeReused, "domain.y"},
		{"same node twice", func(*State[int]) Commit[int] {
			return Commit[int]{Writes: []Write[int]{{Path: Path{"a"}, Node: fresh}, {Path: Path{"b"}, Node: fresh}}}
		}, CodeReused, "b"},
		{"future start", func(*State[int]) Commit[int] {
			return Commit[int]{Start: 1, Writes: []Write[int]{set(t, "domain.x", 1)}}
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker()
			s := newState(t, base, Options[int]{Release: tr.release})
			before := leaves(s.Snapshot().Root())
			req := tt.req(s)
			_, err := s.Commit(req)
			if tt.code == "" {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Requested != 1 || ve.Current != 0 {
					t.Fatalf("error = %v, want *VersionError", err)
				}
			} else {
				var pe *PathError
				if !errors.As(err, &pe) || pe.Code != tt.code || pe.Path != tt.atPath {
					t.Fatalf("error = %#v, want code %q at %q", err, tt.code, tt.atPath)
				}
			}
			if s.Version() != 0 || len(s.History()) != 0 {
				t.Fatalf("failed commit changed the state: version %d", s.Version())
			}
			if got := leaves(s.Snapshot().Root()); !mapsEqual(got, before) {
				t.Fatalf("leaves changed: %v", got)
			}
			if tr.total() != 0 {
				t.Fatalf("failed commit released %d values", tr.total())
			}
			for _, w := range req.Writes {
				if w.Node != nil && w.Node.owned && tt.code != CodeReused {
					t.Fatalf("failed commit kept ownership of %s", w.Path)
				}
			}
		})
	}
	if fresh.owned {
		t.Fatal("fresh node still owned after failed commit")
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCommitWrites(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2}}, Options[int]{Release: tr.release})
	v, err := s.Commit(Commit[int]{Writes: []Write[int]{
		set(t, "domain.x", 10),
		set(t, "global.limit.max", 20), // creates global and global.limit
		del(t, "domain.y"),
	}, Author: "p"})
	if err != nil || v != 1 {
		t.Fatalf("Commit = %d, %v", v, err)
	}
	want := map[string]int{"domain.x": 10, "global.limit.max": 20}
	sn := s.Snapshot()
	defer sn.Release()
	if got := leaves(sn.Root()); !mapsEqual(got, want) {
		t.Fatalf("leaves = %v, want %v", got, want)
	}
	for _, p := range []string{"", "domain", "domain.x", "global", "global.limit", "global.limit.max"} {
		var path Path
		if p != "" {
			path = mustPath(t, p)
		}
		n, err := sn.Lookup(path)
		if err != nil || n.Version() != 1 {
			t.Fatalf("%q: version %v, %v; want 1", p, n, err)
		}
	}
	if tr.count(1) != 1 || tr.count(2) != 1 || tr.total() != 2 {
		t.Fatalf("released %v, want 1 and 2 once", tr.released)
	}
	// Replacing a key keeps its place; a new key goes last.
	if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{set(t, "domain.a", 3)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Commit[int]{Start: 2, Writes: []Write[int]{set(t, "domain.x", 4)}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	d, _ := s.Snapshot().Lookup(Path{"domain"})
	d.Range(func(name string, _ *Node[int]) bool { names = append(names, name); return true })
	if !slices.Equal(names, []string{"x", "a"}) {
		t.Fatalf("order = %v, want [x a]", names)
	}
}

func TestConflicts(t *testing.T) {
	base := map[string]any{
		"domain": map[string]any{"x": 1, "y": 2, "user": map[string]any{"name": 3, "age": 4}},
		"global": map[string]any{"limit": 5},
	}
	tests := []struct {
		name     string
		first    func(t *testing.T) []Write[int] // committed after the second writer's start
		second   Commit[int]
		strict   bool
		conflict []string // nil: no conflict
	}{
		{"read path changed", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "domain.x", 9)} },
			Commit[int]{Reads: []Path{{"domain", "x"}}, Writes: []Write[int]{set(t, "domain.y", 1)}}, false, []string{"domain.x"}},
		{"write path changed", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "domain.x", 9)} },
			Commit[int]{Writes: []Write[int]{set(t, "domain.x", 1)}}, false, []string{"domain.x"}},
		{"parent replaced", func(t *testing.T) []Write[int] {
			return []Write[int]{{Path: Path{"domain", "user"}, Node: tree(map[string]any{"name": 3})}}
		}, Commit[int]{Reads: []Path{{"domain", "user", "name"}}}, false, []string{"domain.user.name"}},
		{"child changed under a read branch", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "domain.user.age", 5)} },
			Commit[int]{Reads: []Path{{"domain", "user"}}, Writes: []Write[int]{set(t, "global.limit", 1)}}, false, []string{"domain.user"}},
		{"deleted path", func(t *testing.T) []Write[int] { return []Write[int]{del(t, "domain.y")} },
			Commit[int]{Reads: []Path{{"domain", "y"}}, Writes: []Write[int]{set(t, "global.limit", 1)}}, false, []string{"domain.y"}},
		{"deleted parent", func(t *testing.T) []Write[int] { return []Write[int]{del(t, "domain.user")} },
			Commit[int]{Writes: []Write[int]{set(t, "domain.user.name", 1)}}, false, []string{"domain.user.name"}},
		{"disjoint siblings", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "domain.x", 9)} },
			Commit[int]{Reads: []Path{{"domain", "y"}, {"domain", "user", "name"}}, Writes: []Write[int]{set(t, "domain.y", 7)}}, false, nil},
		{"disjoint zones", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "global.limit", 9)} },
			Commit[int]{Writes: []Write[int]{set(t, "domain.user.age", 7)}}, false, nil},
		{"strict commit rejects any change", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "global.limit", 9)} },
			Commit[int]{Strict: true, Writes: []Write[int]{set(t, "domain.x", 1)}}, false, []string{}},
		{"strict option rejects any change", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "global.limit", 9)} },
			Commit[int]{Writes: []Write[int]{set(t, "domain.x", 1)}}, true, []string{}},
		{"strict with path conflict names it", func(t *testing.T) []Write[int] { return []Write[int]{set(t, "domain.x", 9)} },
			Commit[int]{Strict: true, Reads: []Path{{"domain", "x"}}}, false, []string{"domain.x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker()
			s := newState(t, base, Options[int]{Release: tr.release, Strict: tt.strict})
			if _, err := s.Commit(Commit[int]{Start: 0, Writes: tt.first(t)}); err != nil {
				t.Fatal(err)
			}
			released := tr.total()
			_, err := s.Commit(tt.second)
			if tt.conflict == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if s.Version() != 2 {
					t.Fatalf("version %d, want 2", s.Version())
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *ConflictError", err)
			}
			if ce.Expected != 0 || ce.Actual != 1 || !slices.Equal(ce.Paths, tt.conflict) && !(len(ce.Paths) == 0 && len(tt.conflict) == 0) {
				t.Fatalf("conflict = %+v, want paths %v", ce, tt.conflict)
			}
			if s.Version() != 1 || tr.total() != released {
				t.Fatal("rejected commit changed the state or released values")
			}
			for _, w := range tt.second.Writes {
				if w.Node != nil && w.Node.owned {
					t.Fatal("rejected commit kept ownership")
				}
			}
		})
	}
}

func TestVersionZeroNoSpecialCase(t *testing.T) {
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{})
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 2)}}); err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 3)}}); !errors.As(err, &ce) {
		t.Fatalf("stale commit from version 0 accepted: %v", err)
	}
	if _, err := s.Commit(Commit[int]{Start: 0, Strict: true}); !errors.As(err, &ce) {
		t.Fatalf("strict stale commit from version 0 accepted: %v", err)
	}
}

func TestHistory(t *testing.T) {
	s := newState(t, map[string]any{"domain": map[string]any{"x": 0}}, Options[int]{HistorySize: 3})
	for i := 1; i <= 5; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 1), Author: fmt.Sprint("p", i), Writes: []Write[int]{set(t, "domain.x", i), set(t, "domain.a", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	h := s.History()
	if len(h) != 3 {
		t.Fatalf("history length %d, want 3", len(h))
	}
	for i, r := range h {
		want := Version(3 + i)
		if r.Version != want || r.Author != fmt.Sprint("p", want) || !slices.Equal(r.Paths, []string{"domain.a", "domain.x"}) || r.Time.IsZero() {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	h[0].Paths[0] = "mutated"
	if s.History()[0].Paths[0] != "domain.a" {
		t.Fatal("History shares its Paths with the caller")
	}
	if s.Stats().History != 3 {
		t.Fatal("Stats.History wrong")
	}
}

func TestDiff(t *testing.T) {
	s := newState(t, map[string]any{
		"domain": map[string]any{"x": 1, "y": 2, "user": map[string]any{"name": 3}},
		"global": map[string]any{"limit": 4},
	}, Options[int]{KeepVersions: 5})
	commits := [][]Write[int]{
		{set(t, "domain.x", 10)},
		{del(t, "domain.y"), set(t, "domain.z", 5)},
		{{Path: Path{"domain", "user"}, Node: Leaf(6)}},
	}
	for i, ws := range commits {
		if _, err := s.Commit(Commit[int]{Start: Version(i), Writes: ws}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(v Version) *Node[int] {
		sn, err := s.At(v)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sn.Release)
		return sn.Root()
	}
	type ch struct {
		path     string
		kind     ChangeKind
		old, new int
	}
	flat := func(cs []Change[int]) []ch {
		var out []ch
		for _, c := range cs {
			x := ch{path: c.Path, kind: c.Kind}
			if c.Old != nil {
				x.old = c.Old.Value()
			}
			if c.New != nil {
				x.new = c.New.Value()
			}
			out = append(out, x)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
		return out
	}
	got := flat(Diff(at(0), at(3)))
	want := []ch{
		{"domain.user", Changed, 0, 6}, // a branch replaced by a leaf: one change
		{"domain.x", Changed, 1, 10},
		{"domain.y", Removed, 2, 0},
		{"domain.z", Added, 0, 5},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Diff(0,3) = %v\nwant %v", got, want)
	}
	if d := Diff(at(2), at(2)); len(d) != 0 {
		t.Fatalf("Diff of a version with itself = %v", d)
	}
	if got := flat(Diff(at(1), at(0))); !slices.Equal(got, []ch{{"domain.x", Changed, 10, 1}}) {
		t.Fatalf("Diff(1,0) = %v", got)
	}
	if got := flat(Diff(nil, at(0))); len(got) != 4 || got[0].kind != Added {
		t.Fatalf("Diff(nil, 0) = %v", got)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&PathError{Path: "domain.y", Code: CodeNotFound, Msg: "not found"}, "kernel: domain.y: not found"},
		{&PathError{Code: CodeEmpty, Msg: "empty path"}, "kernel: empty path"},
		{&ConflictError{Expected: 1, Actual: 3, Paths: []string{"domain.x", "domain.y"}}, "kernel: conflict: expected version 1, actual 3 (changed: domain.x, domain.y)"},
		{&ConflictError{Expected: 1, Actual: 3}, "kernel: conflict: expected version 1, actual 3 (strict commit rejects any change)"},
		{&VersionError{Requested: 9, Current: 3, Msg: "is in the future"}, "kernel: version 9: is in the future (current version 3)"},
		{&ClosedError{}, "kernel: state is closed"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	for k, want := range map[ChangeKind]string{Added: "added", Changed: "changed", Removed: "removed", 0: "unknown"} {
		if k.String() != want {
			t.Fatalf("ChangeKind(%d) = %q", k, k.String())
		}
	}
}
