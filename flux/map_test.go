package flux

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fan runs the items one after another on the same host, binding the item under args.
func (h *fakeHost) Fan(name string, items []any, _ int, item func(int, Host) error) []error {
	errs := make([]error, len(items))
	args, _ := h.state["args"].(map[string]any)
	if args == nil {
		args = map[string]any{}
		h.state["args"] = args
	}
	for i, it := range items {
		args[name] = it
		errs[i] = item(i, h)
	}
	delete(args, name)
	return errs
}

func TestMapRunsTheBodyPerItemInOrder(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: map
    over: domain.ids
    as: id
    concurrency: 3
    do:
      - flux: if
        condition: args.id != "b"
        then: [work]
  - done
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{"ids": []any{"a", "b", "c"}}})
	var seen []any
	h.procs["work"] = func(h *fakeHost, _ Map) error {
		seen = append(seen, h.state["args"].(map[string]any)["id"])
		return nil
	}
	tr, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []any{"a", "c"}, seen)
	assert.Equal(t, []string{"work", "work", "done"}, tr.Executed)
	assert.Equal(t, "map", tr.Entries[0].Kind)
	assert.Equal(t, "3 items", tr.Entries[0].Outcome)
}

func TestMapOverAMappingUsesSortedKeys(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: map\n    over: domain.orders\n    as: k\n    do: [work]\n")
	h := newFakeHost(map[string]any{"domain": map[string]any{"orders": map[string]any{"z": 1, "a": 2, "m": 3}}})
	var seen []any
	h.procs["work"] = func(h *fakeHost, _ Map) error {
		seen = append(seen, h.state["args"].(map[string]any)["k"])
		return nil
	}
	_, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []any{"a", "m", "z"}, seen)
}

func TestMapFailsAfterEveryItemRan(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: map\n    over: '[1, 2, 3]'\n    as: n\n    do: [work]\n  - never\n")
	h := newFakeHost(map[string]any{})
	runs := 0
	h.procs["work"] = func(h *fakeHost, _ Map) error {
		runs++
		if h.state["args"].(map[string]any)["n"] == int64(2) || h.state["args"].(map[string]any)["n"] == 2 {
			return errors.New("item two")
		}
		return nil
	}
	_, err := w.Run(h, RunOptions{})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeStep, fe.Code)
	assert.Equal(t, 3, runs)
	assert.NotContains(t, h.calls, "never")
}

func TestMapOverANonListFails(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: map\n    over: domain.n\n    as: x\n    do: [work]\n")
	_, err := w.Run(newFakeHost(map[string]any{"domain": map[string]any{"n": int64(3)}}), RunOptions{})
	assert.ErrorContains(t, err, "must give a list or a mapping, got int")
}

func TestMapLoadErrors(t *testing.T) {
	for src, want := range map[string]string{
		"steps:\n  - flux: map\n    as: x\n    do: [a]\n":                                                     "map step is missing `over`",
		"steps:\n  - flux: map\n    over: domain.l\n    do: [a]\n":                                            "map step is missing `as`",
		"steps:\n  - flux: map\n    over: domain.l\n    as: x\n":                                              "map step is missing `do`",
		"steps:\n  - flux: map\n    over: domain.l\n    as: x\n    do: []\n":                                  "empty `do`",
		"steps:\n  - flux: map\n    over: domain.l\n    as: 1x\n    do: [a]\n":                                "`as` must name",
		"steps:\n  - flux: map\n    over: domain.l\n    as: x\n    concurrency: 0\n    do: [a]\n":             "`concurrency` must be an integer from 1",
		"args: [x]\nsteps:\n  - flux: map\n    over: domain.l\n    as: x\n    do: [a]\n":                      "already a run argument",
		"steps:\n  - flux: map\n    over: domain.l\n    as: x\n    do:\n      - flux: wait\n        for: y\n": "cannot be inside a `flux: map`",
		"steps:\n  - flux: map\n    over: domain.l +\n    as: x\n    do: [a]\n":                               "invalid condition",
	} {
		_, err := Parse([]byte(src), "m.yaml")
		assert.ErrorContains(t, err, want, src)
	}
}
