package flux

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A wait deep inside a try's except, inside an if, inside the third iteration of a while:
// the run parks there and a resume continues exactly after it (the loop's later iterations
// and the steps after the loop), keeping the trace and the operation count.
func TestWaitParksAndResumeContinues(t *testing.T) {
	w := mustParse(t, `
steps:
  - start
  - flux: while
    condition: domain.counter < 4
    do:
      - increment
      - flux: if
        condition: domain.counter == 3
        then:
          - flux: try
            do: [fail]
            except:
              - flux: wait
                for: approval
              - after_wait
  - done
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{"counter": int64(0)}})
	h.procs["increment"] = incr("domain", "counter")
	h.procs["fail"] = func(*fakeHost, Map) error { return errors.New("boom") }
	tr, err := w.Run(h, RunOptions{})
	var wt *Waiting
	require.ErrorAs(t, err, &wt)
	assert.Equal(t, "approval", wt.For)
	assert.Equal(t, 14, wt.Pos.Line)
	assert.Equal(t, []string{"start", "increment", "increment", "increment", "fail"}, tr.Executed)
	last := tr.Entries[len(tr.Entries)-1]
	assert.Equal(t, "wait", last.Kind)
	assert.Equal(t, "waiting", last.Outcome)
	before := len(tr.Entries)

	h.calls = nil
	tr2, err := w.Resume(h, wt, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"after_wait", "increment", "done"}, h.calls)
	assert.Equal(t, append(append([]string{}, tr.Executed...), "after_wait", "increment", "done"), tr2.Executed)
	assert.Len(t, tr.Entries, before, "the parked trace is not changed")
	assert.Equal(t, "resumed", tr2.Entries[before].Outcome)
	assert.Greater(t, tr2.Operations, tr.Operations)
	assert.Equal(t, int64(4), h.state["domain"].(map[string]any)["counter"])
}

func TestWaitInsideExceptKeepsTheCaughtError(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: try
    do: [fail]
    except:
      - flux: wait
        for: ok
      - flux: if
        condition: error.message == "boom" and error.step == "fail"
        then: [yes]
        else: [no]
`)
	h := newFakeHost(map[string]any{})
	h.procs["fail"] = func(*fakeHost, Map) error { return errors.New("boom") }
	_, err := w.Run(h, RunOptions{})
	var wt *Waiting
	require.ErrorAs(t, err, &wt)
	h.calls = nil
	_, err = w.Resume(h, wt, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"yes"}, h.calls)
}

func TestResumeOfAnotherWorkflowIsRefused(t *testing.T) {
	a := mustParse(t, "steps:\n  - flux: wait\n    for: x\n")
	b := mustParse(t, "steps:\n  - flux: wait\n    for: x\n")
	_, err := a.Run(newFakeHost(nil), RunOptions{})
	var wt *Waiting
	require.ErrorAs(t, err, &wt)
	_, err = b.Resume(newFakeHost(nil), wt, RunOptions{})
	assert.ErrorContains(t, err, "another workflow")
	assert.Equal(t, []string{"x"}, a.Waits())
}

func TestWaitLoadErrors(t *testing.T) {
	for src, want := range map[string]string{
		"steps:\n  - flux: wait\n":                        "wait step is missing `for`",
		"steps:\n  - flux: wait\n    for: [a]\n":          "`for` must name the input",
		"steps:\n  - flux: wait\n    for: a\n    x: 1\n":  "unknown key `x` in a wait step",
		"args: [a]\nsteps:\n  - flux: wait\n    for: a\n": "declared under `args:`",
	} {
		_, err := Parse([]byte(src), "w.yaml")
		assert.ErrorContains(t, err, want, src)
	}
}
