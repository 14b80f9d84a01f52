package kernel_test

import (
	"errors"
	"fmt"

	"github.com/theus-dev/theus/kernel"
)

func ExampleNew() {
	root := kernel.Branch(map[string]*kernel.Node[string]{
		"domain": kernel.Branch(map[string]*kernel.Node[string]{
			"user": kernel.Leaf("ada"),
		}, nil),
	}, nil)
	s, err := kernel.New(root, kernel.Options[string]{
		Release: func(v string) { fmt.Println("released", v) },
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println("version", s.Version())
	// Output:
	// version 0
	// released ada
}

func ExampleState_Commit() {
	s, _ := kernel.New(kernel.Branch(map[string]*kernel.Node[int]{
		"domain": kernel.Branch(map[string]*kernel.Node[int]{"counter": kernel.Leaf(0)}, nil),
	}, nil), kernel.Options[int]{})
	counter, _ := kernel.ParsePath("domain.counter")

	v, err := s.Commit(kernel.Commit[int]{
		Start:  0,
		Reads:  []kernel.Path{counter},
		Writes: []kernel.Write[int]{{Path: counter, Node: kernel.Leaf(1)}},
		Author: "increment",
	})
	fmt.Println(v, err)

	// A second writer that also read version 0 conflicts.
	_, err = s.Commit(kernel.Commit[int]{
		Start:  0,
		Writes: []kernel.Write[int]{{Path: counter, Node: kernel.Leaf(1)}},
	})
	var conflict *kernel.ConflictError
	fmt.Println(errors.As(err, &conflict), conflict.Paths)
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// true [domain.counter]
	// kernel: conflict: expected version 0, actual 1 (changed: domain.counter)
}

func ExampleState_Snapshot() {
	released := 0
	s, _ := kernel.New(kernel.Branch(map[string]*kernel.Node[int]{
		"domain": kernel.Branch(map[string]*kernel.Node[int]{"x": kernel.Leaf(1)}, nil),
	}, nil), kernel.Options[int]{Release: func(int) { released++ }})
	x, _ := kernel.ParsePath("domain.x")

	old := s.Snapshot()
	s.Commit(kernel.Commit[int]{Start: 0, Writes: []kernel.Write[int]{{Path: x, Node: kernel.Leaf(2)}}})

	n, _ := old.Lookup(x)
	fmt.Println("snapshot", old.Version(), "reads", n.Value(), "released", released)
	old.Release()
	fmt.Println("after Release, released", released)
	// Output:
	// snapshot 0 reads 1 released 0
	// after Release, released 1
}

func ExampleDiff() {
	s, _ := kernel.New(kernel.Branch(map[string]*kernel.Node[int]{
		"domain": kernel.Branch(map[string]*kernel.Node[int]{"x": kernel.Leaf(1), "y": kernel.Leaf(2)}, nil),
	}, nil), kernel.Options[int]{KeepVersions: 1})
	s.Commit(kernel.Commit[int]{Start: 0, Writes: []kernel.Write[int]{
		{Path: kernel.Path{"domain", "x"}, Node: kernel.Leaf(10)},
		{Path: kernel.Path{"domain", "y"}},
	}})
	a, _ := s.At(0)
	b, _ := s.At(1)
	defer a.Release()
	defer b.Release()
	for _, c := range kernel.Diff(a.Root(), b.Root()) {
		fmt.Println(c.Kind, c.Path)
	}
	// Output:
	// changed domain.x
	// removed domain.y
}

// A writer that read an old version may still insert a new key beside keys
// inserted or removed since: only a change of that very path (or of a branch
// on its way) conflicts.
func ExampleState_Commit_newKeys() {
	users := kernel.Branch(map[string]*kernel.Node[int]{"old": kernel.Leaf(0)}, nil)
	s, _ := kernel.New(kernel.Branch(map[string]*kernel.Node[int]{"users": users}, nil), kernel.Options[int]{})
	insert := func(start kernel.Version, key string, v int) error {
		_, err := s.Commit(kernel.Commit[int]{Start: start, Writes: []kernel.Write[int]{
			{Path: kernel.Path{"users", key}, Node: kernel.Leaf(v)},
		}})
		return err
	}
	start := s.Version()
	fmt.Println(insert(start, "a", 1)) // version 1
	s.Commit(kernel.Commit[int]{Start: 1, Writes: []kernel.Write[int]{{Path: kernel.Path{"users", "old"}}}})
	fmt.Println(insert(start, "b", 2)) // started at 0: a and old changed, b did not
	fmt.Println(insert(start, "old", 3))
	// Output:
	// <nil>
	// <nil>
	// kernel: conflict: expected version 0, actual 3 (changed: users.old)
}

// Keys that no dotted path could address are refused.
func ExampleKeyError() {
	_, err := kernel.New(kernel.Branch(map[string]*kernel.Node[int]{
		"domain": kernel.Branch(map[string]*kernel.Node[int]{"a.b": kernel.Leaf(1)}, nil),
	}, nil), kernel.Options[int]{})
	var ke *kernel.KeyError
	fmt.Println(errors.As(err, &ke), ke.Path, ke.Key)
	// Output:
	// true domain a.b
}

func ExampleCommit_appends() {
	s, _ := kernel.New[string](nil, kernel.Options[string]{})
	queue, _ := kernel.ParsePath("outbox.queue")
	// Two writers that read version 0 both append: the commit names the keys, so they never
	// conflict, and the key order is the order in which the commits won.
	for _, msg := range []string{"order.placed", "order.confirmed"} {
		if _, err := s.Commit(kernel.Commit[string]{Start: 0, AppendUnder: queue, Appends: []*kernel.Node[string]{kernel.Leaf(msg)}}); err != nil {
			panic(err)
		}
	}
	snap := s.Snapshot()
	defer snap.Release()
	q, _ := snap.Lookup(queue)
	q.Range(func(key string, n *kernel.Node[string]) bool {
		seq, v, _ := kernel.ParseAppendKey(key)
		fmt.Println(key, seq, v, n.Value())
		return true
	})
	// Output:
	// 00000000000000000001_1 1 1 order.placed
	// 00000000000000000002_2 2 2 order.confirmed
}
