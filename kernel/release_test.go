package kernel

import (
	"errors"
	"sync"
	"testing"
)

func TestReleaseWithoutSnapshots(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2}}, Options[int]{Release: tr.release})
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 3)}}); err != nil {
		t.Fatal(err)
	}
	if tr.count(1) != 1 || tr.total() != 1 {
		t.Fatalf("released %v, want only 1", tr.released)
	}
	if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{{Path: Path{"domain"}, Node: tree(map[string]any{"z": 4})}}}); err != nil {
		t.Fatal(err)
	}
	if tr.count(2) != 1 || tr.count(3) != 1 || tr.total() != 3 {
		t.Fatalf("replacing a zone released %v, want 1, 2, 3", tr.released)
	}
	if st := s.Stats(); st.Pending != 0 || st.Released != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestSnapshotDelaysRelease(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: tr.release})
	sn := s.Snapshot()
	for i := 2; i <= 4; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 2), Writes: []Write[int]{set(t, "domain.x", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// 1 is pinned by sn (version 0); 2 and 3 lived only at unpinned versions.
	if tr.count(1) != 0 || tr.count(2) != 1 || tr.count(3) != 1 {
		t.Fatalf("released %v, want 2 and 3 only", tr.released)
	}
	if got := lookupValue(t, sn, "domain.x"); got != 1 {
		t.Fatalf("snapshot reads %d, want 1", got)
	}
	st := s.Stats()
	if st.Pending == 0 || st.Snapshots != 1 || st.PinnedVersions != 1 {
		t.Fatalf("Stats with a snapshot = %+v", st)
	}
	sn.Release()
	sn.Release()
	if tr.count(1) != 1 || tr.count(4) != 0 {
		t.Fatalf("after Release: %v", tr.released)
	}
	if st := s.Stats(); st.Pending != 0 || st.Snapshots != 0 || st.PinnedVersions != 0 {
		t.Fatalf("Stats after Release = %+v", st)
	}
}

func TestTwoSnapshotsSameVersion(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: tr.release})
	a, b := s.Snapshot(), s.Snapshot()
	if _, err := s.Commit(Commit[int]{Writes: []Write[int]{set(t, "domain.x", 2)}}); err != nil {
		t.Fatal(err)
	}
	a.Release()
	if tr.count(1) != 0 {
		t.Fatal("value released while a second snapshot pins it")
	}
	b.Release()
	if tr.count(1) != 1 {
		t.Fatal("value not released after the last snapshot")
	}
}

func TestOldestPinHoldsThenNext(t *testing.T) {
	// A value alive at versions 0..2 is pinned by snapshots at 0 and 2; it
	// must survive releasing either one alone.
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 10}}, Options[int]{Release: tr.release})
	s0 := s.Snapshot()
	for i := 0; i < 2; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i), Writes: []Write[int]{set(t, "domain.y", 11+i)}}); err != nil {
			t.Fatal(err)
		}
	}
	s2 := s.Snapshot()
	if _, err := s.Commit(Commit[int]{Start: 2, Writes: []Write[int]{set(t, "domain.x", 2)}}); err != nil {
		t.Fatal(err)
	}
	s0.Release()
	if tr.count(1) != 0 {
		t.Fatal("value released while the snapshot at version 2 reaches it")
	}
	if tr.count(10) != 1 || tr.count(11) != 1 {
		t.Fatalf("values only version 0 and 1 reached were not released: %v", tr.released)
	}
	s2.Release()
	if tr.count(1) != 1 || tr.count(12) != 0 {
		t.Fatalf("after the last snapshot: %v", tr.released)
	}
	tr.checkOnce(t)
}

func TestKeepVersions(t *testing.T) {
	const keep = 3
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 0}}, Options[int]{Release: tr.release, KeepVersions: keep})
	for i := 1; i <= 10; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 1), Writes: []Write[int]{set(t, "domain.x", i)}}); err != nil {
			t.Fatal(err)
		}
		// Versions i-3..i are kept; value j lives at version j only.
		for j := 0; j <= i; j++ {
			want := 0
			if j < i-keep {
				want = 1
			}
			if got := tr.count(j); got != want {
				t.Fatalf("after commit %d value %d released %d times, want %d", i, j, got, want)
			}
		}
	}
	if st := s.Stats(); st.RetainedVersions != keep {
		t.Fatalf("RetainedVersions = %d, want %d", st.RetainedVersions, keep)
	}
	for v := Version(7); v <= 10; v++ {
		sn, err := s.At(v)
		if err != nil {
			t.Fatalf("At(%d): %v", v, err)
		}
		if got := lookupValue(t, sn, "domain.x"); got != int(v) {
			t.Fatalf("At(%d) reads %d", v, got)
		}
		sn.Release()
	}
	var ve *VersionError
	if _, err := s.At(6); !errors.As(err, &ve) || ve.Requested != 6 || ve.Current != 10 || ve.Code != CodeNotRetained {
		t.Fatalf("At(6) = %v, want *VersionError", err)
	}
	if _, err := s.At(11); !errors.As(err, &ve) || ve.Code != CodeFuture {
		t.Fatalf("At(11) = %v, want *VersionError", err)
	}
	// A snapshot taken through At keeps its version beyond the window.
	sn, err := s.At(7)
	if err != nil {
		t.Fatal(err)
	}
	for i := 11; i <= 15; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 1), Writes: []Write[int]{set(t, "domain.x", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if tr.count(7) != 0 || tr.count(8) != 1 {
		t.Fatalf("value 7 must be held by the snapshot, 8 released: %v", tr.released)
	}
	again, err := s.At(7)
	if err != nil {
		t.Fatalf("At of a live snapshot's version: %v", err)
	}
	sn.Release()
	again.Release()
	if tr.count(7) != 1 {
		t.Fatal("value 7 not released after its snapshots")
	}
	tr.checkOnce(t)
}

func TestMemoRelease(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}, "global": map[string]any{"y": 2}}, Options[int]{Release: tr.release})
	sn := s.Snapshot()
	dom, _ := sn.Lookup(Path{"domain"})
	glob, _ := sn.Lookup(Path{"global"})
	if _, ok := dom.SetMemo(100); !ok {
		t.Fatal("SetMemo failed")
	}
	if _, ok := glob.SetMemo(200); !ok {
		t.Fatal("SetMemo failed")
	}
	if _, ok := sn.Root().SetMemo(300); !ok {
		t.Fatal("SetMemo failed")
	}
	if _, err := s.Commit(Commit[int]{Writes: []Write[int]{set(t, "domain.x", 3)}}); err != nil {
		t.Fatal(err)
	}
	if tr.total() != 0 {
		t.Fatalf("released %v while the snapshot is held", tr.released)
	}
	sn.Release()
	// domain and the root were replaced by path copying; global is shared.
	if tr.count(100) != 1 || tr.count(300) != 1 || tr.count(1) != 1 || tr.count(200) != 0 {
		t.Fatalf("released %v, want 1, 100, 300", tr.released)
	}
	if _, ok := dom.SetMemo(101); ok {
		t.Fatal("SetMemo on a released node succeeded")
	}
	if _, ok := dom.Memo(); ok {
		t.Fatal("released memo still visible")
	}
	s.Close()
	if tr.count(200) != 1 || tr.count(2) != 1 || tr.count(3) != 1 {
		t.Fatalf("Close released %v", tr.released)
	}
	tr.checkOnce(t)
}

func TestCloseReleasesEverythingOnce(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2}}, Options[int]{Release: tr.release, KeepVersions: 2})
	sn := s.Snapshot()
	for i := 3; i <= 8; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 3), Writes: []Write[int]{set(t, "domain.x", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s.Close()
	sn.Release()
	for v := 1; v <= 8; v++ {
		if tr.count(v) != 1 {
			t.Fatalf("value %d released %d times", v, tr.count(v))
		}
	}
	var ce *ClosedError
	fresh := Leaf(9)
	if _, err := s.Commit(Commit[int]{Start: 6, Writes: []Write[int]{{Path: Path{"domain", "x"}, Node: fresh}}}); !errors.As(err, &ce) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if _, err := s.At(6); !errors.As(err, &ce) {
		t.Fatalf("At after Close = %v", err)
	}
	if _, err := sn.Lookup(Path{"domain"}); !errors.As(err, &ce) {
		t.Fatalf("Lookup after Close = %v", err)
	}
	if tr.count(9) != 0 || fresh.owned {
		t.Fatal("a commit after Close took ownership")
	}
}

func TestReleaseMayReenter(t *testing.T) {
	var s *State[int]
	calls := 0
	s = newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: func(int) {
		calls++
		sn := s.Snapshot()
		_ = s.Stats()
		sn.Release()
	}})
	if _, err := s.Commit(Commit[int]{Writes: []Write[int]{set(t, "domain.x", 2)}}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Release called %d times", calls)
	}
}

func TestMillionCommitsStayFlat(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	counts := make([]uint8, n+1)
	s := newState(t, map[string]any{"domain": map[string]any{"x": 0}}, Options[int]{Release: func(v int) { counts[v]++ }, HistorySize: 100})
	p := Path{"domain", "x"}
	for i := 1; i <= n; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 1), Writes: []Write[int]{{Path: p, Node: Leaf(i)}}}); err != nil {
			t.Fatal(err)
		}
		if i%100_000 == 0 {
			if st := s.Stats(); st.Pending != 0 || st.History != 100 || st.Released != uint64(i) {
				t.Fatalf("after %d commits Stats = %+v", i, st)
			}
		}
	}
	for v := 0; v < n; v++ {
		if counts[v] != 1 {
			t.Fatalf("value %d released %d times", v, counts[v])
		}
	}
	if counts[n] != 0 {
		t.Fatal("head value released")
	}
	if st := s.Stats(); st.Pending != 0 || len(s.held) != 0 || len(s.window) != 0 || st.History != 100 {
		t.Fatalf("Stats = %+v", st)
	}
	s.Close()
	if counts[n] != 1 {
		t.Fatal("Close did not release the head value")
	}
}

func TestConcurrentCounter(t *testing.T) {
	const workers, perWorker = 16, 200
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"counter": 0}, "global": map[string]any{}}, Options[int]{Release: tr.release})
	counter := Path{"domain", "counter"}
	var mu sync.Mutex
	winners := map[Version]int{}
	var ids sync.Mutex
	nextID := 1_000_000
	newID := func() int { ids.Lock(); defer ids.Unlock(); nextID++; return nextID }
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for done := 0; done < perWorker; {
				sn := s.Snapshot()
				cur := lookupValue(t, sn, "domain.counter")
				if cur >= 1_000_000 {
					t.Errorf("counter leaf holds a foreign value %d", cur)
				}
				start := sn.Version()
				sn.Release()
				// A disjoint write per worker exercises the internal retry.
				extra := Write[int]{Path: Path{"global", string(rune('a' + w))}, Node: Leaf(newID())}
				v, err := s.Commit(Commit[int]{Start: start, Reads: []Path{counter}, Writes: []Write[int]{{Path: counter, Node: Leaf(cur + 1)}, extra}, Author: "w"})
				var ce *ConflictError
				if errors.As(err, &ce) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := winners[v]; dup {
					t.Errorf("version %d won by %d and %d", v, prev, w)
				}
				winners[v] = w
				mu.Unlock()
				done++
			}
		}(w)
	}
	wg.Wait()
	sn := s.Snapshot()
	defer sn.Release()
	total := workers * perWorker
	if got := lookupValue(t, sn, "domain.counter"); got != total {
		t.Fatalf("counter = %d, want %d", got, total)
	}
	if s.Version() != Version(total) || len(winners) != total {
		t.Fatalf("version %d, %d winners, want %d", s.Version(), len(winners), total)
	}
	for v := Version(1); v <= Version(total); v++ {
		if _, ok := winners[v]; !ok {
			t.Fatalf("version %d has no winner", v)
		}
	}
	// Counter values 0..total-1 were replaced exactly once each.
	for v := 0; v < total; v++ {
		if tr.count(v) != 1 {
			t.Fatalf("counter value %d released %d times", v, tr.count(v))
		}
	}
	tr.checkOnce(t)
}

func TestConcurrentSnapshotsNeverSeeReleased(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 0}}, Options[int]{Release: tr.release})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sn := s.Snapshot()
				v := lookupValue(t, sn, "domain.x")
				if tr.count(v) != 0 {
					t.Errorf("value %d read from a pinned snapshot was released", v)
				}
				sn.Release()
			}
		}()
	}
	for i := 1; i <= 3000; i++ {
		if _, err := s.Commit(Commit[int]{Start: Version(i - 1), Writes: []Write[int]{{Path: Path{"domain", "x"}, Node: Leaf(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if st := s.Stats(); st.Pending != 0 || st.Snapshots != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	for v := 0; v < 3000; v++ {
		if tr.count(v) != 1 {
			t.Fatalf("value %d released %d times", v, tr.count(v))
		}
	}
}

func TestReleasePanicReleasesTheRest(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2}}, Options[int]{Release: func(v int) {
		tr.release(v)
		if v == 1 || v == 2 {
			panic("release failed")
		}
	}})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Release panic did not reach the caller")
			}
		}()
		s.Commit(Commit[int]{Writes: []Write[int]{set(t, "domain.x", 3), set(t, "domain.y", 4)}})
	}()
	if tr.count(1) != 1 || tr.count(2) != 1 || s.Version() != 1 {
		t.Fatalf("released %v at version %d, want 1 and 2 at version 1", tr.released, s.Version())
	}
	if st := s.Stats(); st.Released != 2 || st.Pending != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestConcurrentDisjointWritersNeverConflict(t *testing.T) {
	const workers, perWorker = 8, 300
	tr := newTracker()
	zone := map[string]any{}
	for w := 0; w < workers; w++ {
		zone[string(rune('a'+w))] = -1 - w
	}
	s := newState(t, map[string]any{"global": zone}, Options[int]{Release: tr.release})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p := Path{"global", string(rune('a' + w))}
			var start Version // the version of this worker's own last write
			for i := 0; i < perWorker; i++ {
				v, err := s.Commit(Commit[int]{Start: start, Reads: []Path{p}, Writes: []Write[int]{{Path: p, Node: Leaf(w*perWorker + i)}}})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				start = v
			}
		}(w)
	}
	wg.Wait()
	if s.Version() != workers*perWorker {
		t.Fatalf("version %d, want %d", s.Version(), workers*perWorker)
	}
	sn := s.Snapshot()
	defer sn.Release()
	for w := 0; w < workers; w++ {
		if got := lookupValue(t, sn, "global."+string(rune('a'+w))); got != w*perWorker+perWorker-1 {
			t.Fatalf("worker %d's key holds %d", w, got)
		}
	}
	tr.checkOnce(t)
	if tr.total() != workers*perWorker {
		t.Fatalf("released %d values, want %d", tr.total(), workers*perWorker)
	}
}

func TestCommitCollectHandsTheReleasedValuesToTheCaller(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2, "z": 3}}, Options[int]{Release: tr.release})
	room := make([]int, 0, 1) // too small: the sink grows past it
	v, got, err := s.CommitCollect(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 10), set(t, "domain.y", 20)}}, room)
	if err != nil || v != 1 {
		t.Fatalf("CommitCollect = %d, %v", v, err)
	}
	if tr.total() != 0 {
		t.Fatalf("Release saw %v; the caller releases a collecting commit's values", tr.released)
	}
	if len(got) != 2 || got[0]+got[1] != 3 {
		t.Fatalf("collected %v, want 1 and 2", got)
	}
	if st := s.Stats(); st.Released != 2 {
		t.Fatalf("Released = %d, want 2 (collected values count as released)", st.Released)
	}
	sn := s.Snapshot() // a pinned version: its values are not the next commit's to release
	_, got, err = s.CommitCollect(Commit[int]{Start: 1, Writes: []Write[int]{set(t, "domain.z", 30)}}, got[:0])
	if err != nil || len(got) != 0 {
		t.Fatalf("collected %v (%v) while a snapshot holds the old value", got, err)
	}
	sn.Release()
	if tr.count(3) != 1 {
		t.Fatalf("the snapshot's release released %v, want 3", tr.released)
	}
	_, got, err = s.CommitCollect(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 5)}}, nil)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(got) != 0 {
		t.Fatalf("a rejected commit collected %v (%v)", got, err)
	}
}

func TestSnapshotReleaseCollectHandsBackWhatTheUnpinReleases(t *testing.T) {
	tr := newTracker()
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: tr.release})
	sn := s.Snapshot()
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 2)}}); err != nil {
		t.Fatal(err)
	}
	got := sn.ReleaseCollect(nil)
	if len(got) != 1 || got[0] != 1 || tr.total() != 0 {
		t.Fatalf("collected %v, Release saw %v; want 1 collected and nothing released", got, tr.released)
	}
	if again := sn.ReleaseCollect(nil); len(again) != 0 {
		t.Fatalf("a second release collected %v", again)
	}
	if st := s.Stats(); st.Snapshots != 0 || st.Released != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}
