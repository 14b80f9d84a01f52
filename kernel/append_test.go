package kernel

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// appendKeys returns the child names of the branch at path in sn, sorted as strings.
func appendKeys(t *testing.T, sn *Snapshot[int], path string) []string {
	t.Helper()
	n, err := sn.Lookup(mustPath(t, path))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	n.Range(func(name string, _ *Node[int]) bool {
		keys = append(keys, name)
		return true
	})
	sort.Strings(keys)
	return keys
}

func leavesOf(vals ...int) []*Node[int] {
	out := make([]*Node[int], len(vals))
	for i, v := range vals {
		out[i] = Leaf(v)
	}
	return out
}

func TestAppendKeyOrderIsNumericOrder(t *testing.T) {
	seqs := []uint64{1, 2, 9, 10, 99, 100, 999_999, 1_000_000, 1_000_001, 999_999_999_999, 1_000_000_000_000,
		math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64 - 1, math.MaxUint64}
	slices.Sort(seqs)
	keys := make([]string, len(seqs))
	for i, s := range seqs {
		// versions that shrink as seq grows: the version suffix must not decide the order
		keys[i] = AppendKey(s, Version(len(seqs)-i)*1000)
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("append keys do not sort as their sequence numbers: %q", keys)
	}
	for i, k := range keys {
		seq, v, ok := ParseAppendKey(k)
		if !ok || seq != seqs[i] || v != Version(len(seqs)-i)*1000 {
			t.Fatalf("ParseAppendKey(%q) = %d, %d, %v", k, seq, v, ok)
		}
	}
	for _, bad := range []string{"", "1_1", "0000000000000000001_1", "00000000000000000001-1", "00000000000000000001_",
		"00000000000000000001_x", "00000000000000000001_01", "0000000000000000000a_1", "99999999999999999999_1"} {
		if _, _, ok := ParseAppendKey(bad); ok {
			t.Errorf("ParseAppendKey(%q) accepted a key AppendKey never makes", bad)
		}
	}
}

func TestAppendsCommit(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 0}}, Options[int]{Release: tr.release})
	// the branch is created when missing; keys come from the sequence and the version
	v, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 1)},
		AppendUnder: mustPath(t, "outbox.queue"), Appends: leavesOf(10, 11, 12), Author: "p"})
	if err != nil || v != 1 {
		t.Fatal(v, err)
	}
	v, err = s.Commit(Commit[int]{Start: 1, AppendUnder: mustPath(t, "outbox.queue"), Appends: leavesOf(13, 14)})
	if err != nil || v != 2 {
		t.Fatal(v, err)
	}
	sn := s.Snapshot()
	defer sn.Release()
	want := []string{AppendKey(1, 1), AppendKey(2, 1), AppendKey(3, 1), AppendKey(4, 2), AppendKey(5, 2)}
	if got := appendKeys(t, sn, "outbox.queue"); !slices.Equal(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	for i, k := range want {
		if got := lookupValue(t, sn, "outbox.queue."+k); got != 10+i {
			t.Fatalf("%s = %d, want %d", k, got, 10+i)
		}
	}
	// insertion order (what Range and the Python views walk) is the append order too
	q, _ := sn.Lookup(mustPath(t, "outbox.queue"))
	var walked []string
	q.Range(func(name string, _ *Node[int]) bool { walked = append(walked, name); return true })
	if !slices.Equal(walked, want) {
		t.Fatalf("insertion order %q, want %q", walked, want)
	}
	// the history names the appended paths beside the writes, sorted
	h := s.History()
	wantPaths := []string{"domain.x", "outbox.queue." + want[0], "outbox.queue." + want[1], "outbox.queue." + want[2]}
	if !slices.Equal(h[0].Paths, wantPaths) || h[0].Author != "p" {
		t.Fatalf("history %+v", h[0])
	}
	if !slices.Equal(h[1].Paths, []string{"outbox.queue." + want[3], "outbox.queue." + want[4]}) {
		t.Fatalf("history %+v", h[1])
	}
	// a diff sees them as added
	old, err := s.At(0)
	if err == nil {
		defer old.Release()
		changes := Diff(old.Root(), sn.Root())
		added := 0
		for _, c := range changes {
			if c.Kind == Added {
				added++
			}
		}
		if added < 5 {
			t.Fatalf("diff %+v", changes)
		}
	}
	// appended values are released once when deleted, like written ones
	sn.Release()
	if _, err := s.Commit(Commit[int]{Start: 2, Writes: []Write[int]{del(t, "outbox.queue."+want[0]), del(t, "outbox.queue."+want[3])}}); err != nil {
		t.Fatal(err)
	}
	if tr.count(10) != 1 || tr.count(13) != 1 || tr.count(11) != 0 {
		t.Fatalf("released %v", tr.released)
	}
	s.Close()
	tr.checkOnce(t)
}

func TestAppendsWithWritesInsideTheBranch(t *testing.T) {
	s := newState(t, map[string]any{"outbox": map[string]any{"queue": map[string]any{"old": 1}}}, Options[int]{})
	v, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{del(t, "outbox.queue.old"), set(t, "outbox.claims.a", 2)},
		AppendUnder: mustPath(t, "outbox.queue"), Appends: leavesOf(7)})
	if err != nil {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	defer sn.Release()
	if got := appendKeys(t, sn, "outbox.queue"); !slices.Equal(got, []string{AppendKey(1, v)}) {
		t.Fatalf("keys %q", got)
	}
	if lookupValue(t, sn, "outbox.claims.a") != 2 {
		t.Fatal("write lost")
	}
}

func TestAppendsNeverConflict(t *testing.T) {
	s := newState(t, map[string]any{"domain": map[string]any{"a": 0, "b": 0}}, Options[int]{})
	under := mustPath(t, "outbox.queue")
	// two writers that started at version 0 and append (with disjoint writes) both commit
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.a", 1)}, AppendUnder: under, Appends: leavesOf(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.b", 1)}, AppendUnder: under, Appends: leavesOf(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Commit[int]{Start: 0, AppendUnder: under, Appends: leavesOf(3)}); err != nil {
		t.Fatal(err)
	}
	// but a reader of the branch sees that it changed, and a strict commit any newer head
	var ce *ConflictError
	if _, err := s.Commit(Commit[int]{Start: 1, Reads: []Path{under}, Writes: []Write[int]{set(t, "domain.c", 1)}}); !errors.As(err, &ce) {
		t.Fatalf("a read of the appended branch did not conflict: %v", err)
	}
	if _, err := s.Commit(Commit[int]{Start: 2, Strict: true, AppendUnder: under, Appends: leavesOf(4)}); !errors.As(err, &ce) {
		t.Fatalf("a strict append on a stale start committed: %v", err)
	}
}

func TestAppendsValidation(t *testing.T) {
	s := newState(t, map[string]any{"outbox": map[string]any{"queue": map[string]any{}}, "leaf": 1}, Options[int]{})
	kept := Leaf(5)
	tests := []struct {
		name string
		req  Commit[int]
		code string
	}{
		{"write at the branch", Commit[int]{Writes: []Write[int]{del(t, "outbox.queue")}, AppendUnder: mustPath(t, "outbox.queue"), Appends: []*Node[int]{kept}}, CodeOverlap},
		{"write above the branch", Commit[int]{Writes: []Write[int]{set(t, "outbox", 1)}, AppendUnder: mustPath(t, "outbox.queue"), Appends: []*Node[int]{kept}}, CodeOverlap},
		{"no branch path", Commit[int]{Appends: []*Node[int]{kept}}, CodeEmpty},
		{"malformed branch path", Commit[int]{AppendUnder: Path{"outbox", ""}, Appends: []*Node[int]{kept}}, CodeMalformed},
		{"nil append", Commit[int]{AppendUnder: mustPath(t, "outbox.queue"), Appends: []*Node[int]{kept, nil}}, CodeMalformed},
		{"through a leaf", Commit[int]{AppendUnder: mustPath(t, "leaf.q"), Appends: []*Node[int]{kept}}, CodeNotABranch},
		{"the same node twice", Commit[int]{AppendUnder: mustPath(t, "outbox.queue"), Appends: []*Node[int]{kept, kept}}, CodeReused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Commit(tc.req)
			var pe *PathError
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("got %v, want a PathError %q", err, tc.code)
			}
			if s.Version() != 0 {
				t.Fatal("a refused commit changed the state")
			}
		})
	}
	// every refusal left the node to its owner: it commits now, with sequence number 1
	if _, err := s.Commit(Commit[int]{AppendUnder: mustPath(t, "outbox.queue"), Appends: []*Node[int]{kept}}); err != nil {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	defer sn.Release()
	if got := appendKeys(t, sn, "outbox.queue"); !slices.Equal(got, []string{AppendKey(1, 1)}) {
		t.Fatalf("keys %q", got)
	}
	// a conflict refuses the appends with the commit, and the sequence does not move
	var ce *ConflictError
	if _, err := s.Commit(Commit[int]{Start: 0, Reads: []Path{mustPath(t, "outbox.queue")}, AppendUnder: mustPath(t, "outbox.queue"), Appends: leavesOf(6)}); !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	if s.head.Load().appended != 1 {
		t.Fatalf("a rejected commit moved the append sequence to %d", s.head.Load().appended)
	}
}

func TestAppendsPastAMillionKeepOrder(t *testing.T) {
	// The cheap version of a commit with more than 999,999 appends: the sequence is moved
	// (white box) to just below the boundaries where a narrower key would sort wrongly.
	for _, start := range []uint64{999_997, 999_999_999_998, math.MaxUint64 - 10} {
		s := newState(t, map[string]any{}, Options[int]{})
		s.head.Load().appended = start
		if _, err := s.Commit(Commit[int]{AppendUnder: mustPath(t, "q"), Appends: leavesOf(0, 1, 2, 3, 4)}); err != nil {
			t.Fatal(err)
		}
		sn := s.Snapshot()
		keys := appendKeys(t, sn, "q")
		for i, k := range keys {
			seq, _, ok := ParseAppendKey(k)
			if !ok || seq != start+1+uint64(i) || lookupValue(t, sn, "q."+k) != i {
				t.Fatalf("start %d: key %d is %q", start, i, k)
			}
		}
		sn.Release()
	}
	// (A real commit of 1,000,001 appends takes about 10 s here, all of it in the persistent
	// map inserts; AppendKey's order for every width is checked above.)
}

func TestConcurrentAppenders(t *testing.T) {
	const writers, commits, per = 8, 50, 3
	s := newState(t, map[string]any{"domain": map[string]any{}}, Options[int]{})
	under := mustPath(t, "outbox.queue")
	start := newBarrier(writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			start.wait()
			for c := 0; c < commits; c++ {
				// every writer starts from version 0 and writes its own key besides: stale
				// starts, concurrent CAS rounds, and still no conflict
				vals := make([]int, per)
				for i := range vals {
					vals[i] = (w*commits+c)*per + i
				}
				req := Commit[int]{Start: 0, AppendUnder: under, Appends: leavesOf(vals...),
					Writes: []Write[int]{set(t, "domain.w"+strconv.Itoa(w)+"_"+strconv.Itoa(c), c)}}
				if _, err := s.Commit(req); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	defer sn.Release()
	keys := appendKeys(t, sn, "outbox.queue")
	if len(keys) != writers*commits*per {
		t.Fatalf("%d appended, want %d", len(keys), writers*commits*per)
	}
	lastCommit := map[int]int{}
	for i, k := range keys {
		seq, v, ok := ParseAppendKey(k)
		if !ok || seq != uint64(i+1) {
			t.Fatalf("key %d is %q: the sequence has a gap or a repeat", i, k)
		}
		val := lookupValue(t, sn, "outbox.queue."+k)
		w, c, idx := val/(commits*per), (val/per)%commits, val%per
		// a commit's appends are consecutive, in order, under its own version
		if i%per != idx {
			t.Fatalf("key %d holds item %d of its commit", i, idx)
		}
		if idx > 0 {
			_, pv, _ := ParseAppendKey(keys[i-1])
			if pv != v {
				t.Fatalf("items of one commit carry versions %d and %d", pv, v)
			}
		} else if i > 0 {
			_, pv, _ := ParseAppendKey(keys[i-1])
			if pv >= v {
				t.Fatalf("key order is not commit order: version %d before %d", pv, v)
			}
		}
		// each writer's commits appear in the order it made them
		if prev, ok := lastCommit[w]; ok && idx == 0 && prev >= c {
			t.Fatalf("writer %d: commit %d after %d", w, c, prev)
		}
		lastCommit[w] = c
	}
}
