package kernel

import (
	"slices"
	"testing"
)

// carryCall is one call of Options.Carry as a test records it.
type carryCall struct {
	memo    int
	copy    *Node[int]
	changed []string
	read    bool
}

// carrier records Carry calls and takes the memo (storing memo+1000 on the copy) when take.
type carrier struct {
	calls []carryCall
	take  bool
}

func (c *carrier) carry(memo int, copy *Node[int], changed []string, read bool) bool {
	c.calls = append(c.calls, carryCall{memo, copy, slices.Clone(changed), read})
	if !c.take {
		return false
	}
	_, ok := copy.SetMemo(memo + 1000)
	return ok
}

func memoOn(t *testing.T, s *State[int], path string, memo int, read bool) {
	t.Helper()
	sn := s.Snapshot()
	defer sn.Release()
	n, err := sn.Lookup(memoPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.SetMemo(memo); !ok {
		t.Fatalf("SetMemo on %s failed", path)
	}
	if read {
		n.MemoRead()
	}
}

// memoPath parses p ("" is the root).
func memoPath(p string) Path {
	if p == "" {
		return nil
	}
	out, err := ParsePath(p)
	if err != nil {
		panic(err)
	}
	return out
}

func TestCarryOffersReplacedMemosChildrenFirst(t *testing.T) {
	tr := newTracker()
	c := &carrier{take: true}
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1, "y": 2}, "other": map[string]any{"z": 3}},
		Options[int]{Release: tr.release, Carry: c.carry})
	memoOn(t, s, "", 100, false)
	memoOn(t, s, "domain", 200, true)
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 5), {Path: Path{"domain", "y"}}, set(t, "domain.w", 6)}}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 2 {
		t.Fatalf("Carry called %d times, want 2 (domain, then the root): %+v", len(c.calls), c.calls)
	}
	sn := s.Snapshot()
	defer sn.Release()
	dom, _ := sn.Lookup(Path{"domain"})
	if got := c.calls[0]; got.memo != 200 || got.copy != dom || !slices.Equal(got.changed, []string{"w", "x", "y"}) || !got.read {
		t.Fatalf("first Carry = %+v, want the domain memo, its copy, [w x y], read", got)
	}
	if got := c.calls[1]; got.memo != 100 || got.copy != sn.Root() || !slices.Equal(got.changed, []string{"domain"}) || got.read {
		t.Fatalf("second Carry = %+v, want the root memo, the new root, [domain], not read", got)
	}
	if m, ok := dom.Memo(); !ok || m != 1200 {
		t.Fatalf("the copy's memo = %d, %v; want the carried 1200", m, ok)
	}
	// The carried memos were not passed to Release, the replaced leaves were; both count.
	if tr.count(100) != 0 || tr.count(200) != 0 || tr.count(1) != 1 || tr.count(2) != 1 {
		t.Fatalf("released %v", tr.released)
	}
	if st := s.Stats(); st.Released != 4 {
		t.Fatalf("Released = %d, want 4 (two leaves, two memos)", st.Released)
	}
}

func TestCarryRefusedReleasesTheMemo(t *testing.T) {
	tr := newTracker()
	c := &carrier{}
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: tr.release, Carry: c.carry})
	memoOn(t, s, "domain", 200, false)
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 5)}}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 1 || tr.count(200) != 1 {
		t.Fatalf("calls %+v, released %v: a refused memo must be released once", c.calls, tr.released)
	}
	tr.checkOnce(t)
}

func TestCarryWaitsForTheSnapshotAndSkipsBranchesWithoutMemo(t *testing.T) {
	tr := newTracker()
	c := &carrier{take: true}
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}, "q": map[string]any{"a": 1}},
		Options[int]{Release: tr.release, Carry: c.carry})
	memoOn(t, s, "domain", 200, true)
	sn := s.Snapshot()
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 5), set(t, "q.a", 2)}}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 0 {
		t.Fatalf("Carry ran while a snapshot reaches the memo: %+v", c.calls)
	}
	sn.Release()
	if len(c.calls) != 1 || c.calls[0].memo != 200 || !slices.Equal(c.calls[0].changed, []string{"x"}) {
		t.Fatalf("after the snapshot: %+v, want the domain memo only (root and q had none)", c.calls)
	}
}

func TestCarryNamesAppendedKeys(t *testing.T) {
	c := &carrier{take: true}
	s := newState(t, map[string]any{"outbox": map[string]any{}, "domain": map[string]any{"x": 1}}, Options[int]{Carry: c.carry})
	memoOn(t, s, "", 100, false)
	memoOn(t, s, "outbox", 300, false)
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 2)}, Appends: []*Node[int]{Leaf(7)}, AppendUnder: Path{"outbox"}}); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != 2 || !slices.Equal(c.calls[0].changed, []string{AppendKey(1, 1)}) ||
		!slices.Equal(c.calls[1].changed, []string{"domain", "outbox"}) {
		t.Fatalf("calls %+v, want the outbox with its appended key, then the root with domain and outbox", c.calls)
	}
}

func TestCarryIntoAReleasedCopyFails(t *testing.T) {
	tr := newTracker()
	c := &carrier{take: true}
	s := newState(t, map[string]any{"domain": map[string]any{"x": 1}}, Options[int]{Release: tr.release, Carry: c.carry})
	memoOn(t, s, "domain", 200, true)
	old := s.Snapshot() // pins version 0: the domain memo waits for it
	if _, err := s.Commit(Commit[int]{Start: 0, Writes: []Write[int]{set(t, "domain.x", 5)}}); err != nil {
		t.Fatal(err)
	}
	sn := s.Snapshot()
	copy, _ := sn.Lookup(Path{"domain"})
	sn.Release()
	if _, err := s.Commit(Commit[int]{Start: 1, Writes: []Write[int]{set(t, "domain.x", 6)}}); err != nil {
		t.Fatal(err)
	}
	if !copy.MemoReleased() {
		t.Fatal("the replaced copy's memo slot is not marked released")
	}
	old.Release()
	if len(c.calls) != 1 || c.calls[0].copy != copy {
		t.Fatalf("calls %+v", c.calls)
	}
	if _, ok := copy.Memo(); ok {
		t.Fatal("a memo was stored on a released copy")
	}
	if tr.count(200) != 1 {
		t.Fatalf("the memo the released copy could not take was not released: %v", tr.released)
	}
}
