package flux

import (
	"errors"
	"testing"
)

// fakeHost is an in-memory engine: state is nested maps, processes are Go funcs that mutate
// it, and the version counts successful process runs.
type fakeHost struct {
	state     map[string]any
	procs     map[string]func(h *fakeHost, with Map) error
	calls     []string
	withs     []Map
	reads     [][]string
	version   uint64
	polls     int
	interrupt func(polls int) error
}

func newFakeHost(state map[string]any) *fakeHost {
	return &fakeHost{state: state, procs: map[string]func(*fakeHost, Map) error{}}
}

func (h *fakeHost) Run(s *ProcessStep) error {
	h.calls = append(h.calls, s.Name)
	h.withs = append(h.withs, s.With)
	fn, ok := h.procs[s.Name]
	if !ok {
		return nil
	}
	if err := fn(h, s.With); err != nil {
		return err
	}
	h.version++
	return nil
}

func (h *fakeHost) Values(paths [][]string) ([]any, error) {
	out := make([]any, len(paths))
	for i, p := range paths {
		h.reads = append(h.reads, p)
		out[i] = lookup(h.state, p)
	}
	return out, nil
}

func (h *fakeHost) Interrupted() error {
	h.polls++
	if h.interrupt != nil {
		return h.interrupt(h.polls)
	}
	return nil
}

func (h *fakeHost) Version() uint64 { return h.version }

func lookup(v any, path []string) any {
	for depth, seg := range path {
		switch m := v.(type) {
		case map[string]any:
			x, ok := m[seg]
			if !ok {
				return Missing{}
			}
			v = x
		case nil:
			return Missing{}
		default:
			return NotAMapping{Depth: depth, Type: typeName(v)}
		}
	}
	return v
}

// incr returns a process adding 1 to state[zone][key].
func incr(zone, key string) func(*fakeHost, Map) error {
	return func(h *fakeHost, _ Map) error {
		z := h.state[zone].(map[string]any)
		z[key] = z[key].(int64) + 1
		return nil
	}
}

var errBoom = errors.New("boom")

func mustParse(t testing.TB, src string) *Workflow {
	t.Helper()
	w, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return w
}
