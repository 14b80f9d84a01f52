package kernel

import (
	"maps"
	"runtime"
	"strconv"
	"testing"
)

func benchState(b *testing.B, leaves int) *State[int] {
	kids := make(map[string]*Node[int], leaves)
	for i := 0; i < leaves; i++ {
		kids["k"+strconv.Itoa(i)] = Leaf(i)
	}
	root := Branch(map[string]*Node[int]{"domain": Branch(kids, nil)}, nil)
	s, err := New(root, Options[int]{Release: func(int) {}})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkCommitOneKey(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := benchState(b, n)
			p := Path{"domain", "k" + strconv.Itoa(n/2)}
			ws := make([]Write[int], 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ws[0] = Write[int]{Path: p, Node: Leaf(i)}
				if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: ws}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopyOnWriteMapCommit is the baseline: committing one key by
// copying a plain Go map.
func BenchmarkCopyOnWriteMapCommit(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			m := make(map[string]int, n)
			for i := 0; i < n; i++ {
				m["k"+strconv.Itoa(i)] = i
			}
			key := "k" + strconv.Itoa(n/2)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				next := maps.Clone(m)
				next[key] = i
				m = next
			}
		})
	}
}

func BenchmarkSnapshot(b *testing.B) {
	s := benchState(b, 10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Snapshot().Release()
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := benchState(b, n)
			sn := s.Snapshot()
			defer sn.Release()
			p := Path{"domain", "k" + strconv.Itoa(n/2)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := sn.Lookup(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeep commits a path of n segments and a tree nested n deep, then
// diffs and closes: the time per op must grow linearly with n.
func BenchmarkDeep(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			p := make(Path, n)
			p[0] = "domain"
			for i := 1; i < n; i++ {
				p[i] = "a"
			}
			text := p.String()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, _ := New[int](nil, Options[int]{KeepVersions: 2})
				q, err := ParsePath(text)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Commit(Commit[int]{Writes: []Write[int]{{Path: q, Node: Leaf(1)}}}); err != nil {
					b.Fatal(err)
				}
				t := Leaf(2)
				for j := 0; j < n; j++ {
					t = Branch(map[string]*Node[int]{"b": t}, nil)
				}
				if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{{Path: Path{"deep"}, Node: t}}}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{{Path: q, Node: Leaf(3)}}}); err == nil {
					b.Fatal("stale write accepted")
				}
				a, _ := s.At(0)
				c, _ := s.At(2)
				if len(Diff(a.Root(), c.Root())) != 2 {
					b.Fatal("diff")
				}
				a.Release()
				c.Release()
				_ = s.History()
				s.Close()
			}
		})
	}
}

// BenchmarkCommitManyPaths commits 100 one-key writes into a 10k-key
// branch (half replacing keys, half adding new ones) and reports the time
// per path.
func BenchmarkCommitManyPaths(b *testing.B) {
	const keys, paths = 10_000, 100
	s := benchState(b, keys)
	ps := make([]Path, paths)
	for j := range ps {
		name := "k" + strconv.Itoa(j*(keys/paths))
		if j%2 == 1 {
			name = "n" + strconv.Itoa(j) // added once, replaced after
		}
		ps[j] = Path{"domain", name}
	}
	ws := make([]Write[int], paths)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ws {
			ws[j] = Write[int]{Path: ps[j], Node: Leaf(i)}
		}
		if _, err := s.Commit(Commit[int]{Start: s.Version(), Writes: ws}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*paths), "ns/path")
}

// BenchmarkLeafBytes builds one branch of 1M small leaves with Branch,
// commits it into a State and reports the live Go heap per leaf.
func BenchmarkLeafBytes(b *testing.B) {
	const leaves = 1_000_000
	names := make([]string, leaves)
	for i := range names {
		names[i] = "k" + strconv.Itoa(i)
	}
	for i := 0; i < b.N; i++ {
		before := heapAlloc()
		kids := make(map[string]*Node[int], leaves)
		for j, name := range names {
			kids[name] = Leaf(j)
		}
		root := Branch(map[string]*Node[int]{"domain": Branch(kids, names)}, nil)
		kids = nil
		s, err := New(root, Options[int]{})
		if err != nil {
			b.Fatal(err)
		}
		after := heapAlloc()
		b.ReportMetric(float64(after-before)/leaves, "B/leaf")
		runtime.KeepAlive(s)
	}
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
