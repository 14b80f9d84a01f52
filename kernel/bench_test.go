package kernel

import (
	"maps"
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
