package flux

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunWhileCounter(t *testing.T) {
	w := mustParse(t, `
steps:
  - start
  - flux: while
    condition: domain.counter < 10
    do: [increment]
  - done
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{"counter": int64(0)}})
	h.procs["increment"] = incr("domain", "counter")
	tr, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(10), h.state["domain"].(map[string]any)["counter"])
	want := append(append([]string{"start"}, strings.Split(strings.Repeat("increment,", 10), ",")[:10]...), "done")
	assert.Equal(t, want, tr.Executed)
	assert.Equal(t, want, h.calls)
	// 12 processes, 11 condition evaluations, 10 iterations.
	assert.Equal(t, 33, tr.Operations)
	// Only the path the condition mentions was read, once per evaluation.
	assert.Len(t, h.reads, 11)
	assert.Equal(t, []string{"domain", "counter"}, h.reads[0])

	conds := 0
	for _, e := range tr.Entries {
		if e.Kind == "while" {
			conds++
			assert.Equal(t, "domain.counter < 10", e.Step)
		}
	}
	assert.Equal(t, 11, conds)
	last := tr.Entries[len(tr.Entries)-2]
	assert.Equal(t, "false", last.Outcome)
	inc := tr.Entries[2]
	assert.Equal(t, "increment", inc.Step)
	assert.Equal(t, "ok", inc.Outcome)
	assert.Equal(t, uint64(0), inc.VersionBefore)
	assert.Equal(t, uint64(1), inc.VersionAfter)
	assert.Equal(t, Pos{"test.yaml", 6, 10}, inc.Pos)
}

func TestRunIfElse(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: if
    condition: domain.total > 100 and global.vip
    then: [{process: apply_discount}]
    else: [notify]
`)
	for _, tc := range []struct {
		total float64
		vip   bool
		want  string
	}{{150, true, "apply_discount"}, {150, false, "notify"}, {50, true, "notify"}} {
		h := newFakeHost(map[string]any{"domain": map[string]any{"total": tc.total}, "global": map[string]any{"vip": tc.vip}})
		tr, err := w.Run(h, RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, []string{tc.want}, tr.Executed)
		require.NotEmpty(t, tr.Entries)
		assert.Equal(t, "if", tr.Entries[0].Kind)
	}
}

func TestRunConditionSeesCommittedState(t *testing.T) {
	// The condition after `set` must see the value `set` committed.
	w := mustParse(t, `
steps:
  - set
  - flux: if
    condition: domain.flag == True
    then: [yes]
    else: [no]
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{}})
	h.procs["set"] = func(h *fakeHost, _ Map) error {
		h.state["domain"].(map[string]any)["flag"] = true
		return nil
	}
	tr, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"set", "yes"}, tr.Executed)
}

func TestRunMissingPathIsNil(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: if
    condition: domain.maybe == None and (domain.count ?? 0) == 0 and domain.a.b == nil
    then: [yes]
`)
	tr, err := w.Run(newFakeHost(map[string]any{"domain": map[string]any{}}), RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"yes"}, tr.Executed)
}

func TestRunNested(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: while
    condition: domain.i < 3
    do:
      - flux: if
        condition: domain.i % 2 == 0
        then:
          - flux: run
            steps:
              - flux: if
                condition: domain.i == 0
                then: [zero]
                else: [even]
        else: [odd]
      - inc
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{"i": int64(0)}})
	h.procs["inc"] = incr("domain", "i")
	tr, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"zero", "inc", "odd", "inc", "even", "inc"}, tr.Executed)
}

func TestRunBlocksAndKwargs(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: run
    steps:
      - process: charge
        with: {amount: 10, currency: EUR, meta: {retry: false}}
      - flux: run
        steps: [ship]
  - notify
`)
	h := newFakeHost(nil)
	tr, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"charge", "ship", "notify"}, tr.Executed)
	assert.Equal(t, Map{{"amount", int64(10)}, {"currency", "EUR"}, {"meta", Map{{"retry", false}}}}, h.withs[0])
	assert.Nil(t, h.withs[1])
}

func TestRunBudget(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: while
    condition: "true"
    max_iterations: 1000000
    do: [noop]
`)
	h := newFakeHost(nil)
	tr, err := w.Run(h, RunOptions{Budget: 100})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeBudget, fe.Code)
	assert.Contains(t, fe.Msg, "budget of 100")
	assert.Equal(t, 3, fe.Pos.Line)
	assert.Equal(t, 100, tr.Operations-1)
	assert.NotEmpty(t, tr.Executed)
	assert.LessOrEqual(t, len(h.calls), 34)
}

func TestRunDefaultBudget(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: while\n    condition: 'true'\n    max_iterations: 2000000000\n    do: [noop]\n")
	tr, err := w.Run(newFakeHost(nil), RunOptions{MaxTraceEntries: 5})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeBudget, fe.Code)
	assert.Equal(t, DefaultBudget+1, tr.Operations)
	assert.Len(t, tr.Entries, 5)
	// Every executed process and every condition evaluation (one more than the processes)
	// has an entry.
	assert.Equal(t, 2*len(tr.Executed)+1-5, tr.Dropped)
}

func TestRunMaxIterations(t *testing.T) {
	w := mustParse(t, `
steps:
  - flux: while
    condition: domain.n >= 0
    max_iterations: 5
    do: [inc]
`)
	h := newFakeHost(map[string]any{"domain": map[string]any{"n": int64(0)}})
	h.procs["inc"] = incr("domain", "n")
	tr, err := w.Run(h, RunOptions{})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeMaxIterations, fe.Code)
	assert.Equal(t, Pos{"test.yaml", 3, 5}, fe.Pos)
	assert.Contains(t, fe.Msg, "max_iterations (5)")
	assert.Contains(t, fe.Msg, "domain.n >= 0")
	assert.Len(t, tr.Executed, 5)
	assert.Equal(t, int64(5), h.state["domain"].(map[string]any)["n"])
}

func TestRunMaxIterationsExact(t *testing.T) {
	// A loop that needs exactly max_iterations iterations succeeds.
	w := mustParse(t, "steps:\n  - flux: while\n    condition: domain.n < 5\n    max_iterations: 5\n    do: [inc]\n")
	h := newFakeHost(map[string]any{"domain": map[string]any{"n": int64(0)}})
	h.procs["inc"] = incr("domain", "n")
	_, err := w.Run(h, RunOptions{})
	require.NoError(t, err)
}

func TestRunStepError(t *testing.T) {
	w := mustParse(t, `
steps:
  - first
  - flux: run
    steps:
      - charge_card
  - never
`)
	h := newFakeHost(nil)
	h.procs["first"] = func(*fakeHost, Map) error { return nil }
	h.procs["charge_card"] = func(*fakeHost, Map) error { return errBoom }
	tr, err := w.Run(h, RunOptions{})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeStep, fe.Code)
	assert.Same(t, errBoom, fe.Unwrap())
	assert.True(t, errors.Is(err, errBoom))
	assert.Equal(t, Pos{"test.yaml", 6, 9}, fe.Pos)
	assert.Contains(t, fe.Msg, "charge_card")
	assert.Contains(t, fe.Msg, "line 6")
	assert.Equal(t, []string{"first", "charge_card"}, tr.Executed)
	assert.Equal(t, uint64(1), h.version, "the first step stays committed")
	assert.Equal(t, "error", tr.Entries[len(tr.Entries)-1].Outcome)
}

type interruptErr struct{}

func (interruptErr) Error() string { return "KeyboardInterrupt" }

func TestRunInterrupted(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: while\n    condition: 'true'\n    max_iterations: 1000000\n    do: [noop]\n")
	h := newFakeHost(nil)
	stop := interruptErr{}
	h.interrupt = func(polls int) error {
		if polls == 10 {
			return stop
		}
		return nil
	}
	tr, err := w.Run(h, RunOptions{})
	assert.Equal(t, error(stop), err, "returned unchanged, not wrapped")
	assert.Equal(t, 10, h.polls)
	// Polls come every pollEvery operations, or sooner when pollInterval of wall time passed
	// (a loaded machine, -race): only the upper bound is independent of the clock.
	assert.Less(t, tr.Operations, 10*pollEvery+2)
	assert.GreaterOrEqual(t, tr.Operations, 10)
}

func TestRunInterruptedBeforeFirstStep(t *testing.T) {
	w := mustParse(t, "steps: [a]")
	h := newFakeHost(nil)
	h.interrupt = func(int) error { return interruptErr{} }
	tr, err := w.Run(h, RunOptions{})
	assert.Equal(t, error(interruptErr{}), err)
	assert.Empty(t, tr.Executed)
	assert.Empty(t, h.calls)
}

type valuesErrHost struct{ *fakeHost }

func (valuesErrHost) Values([][]string) ([]any, error) { return nil, errBoom }

func TestRunValuesError(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: if\n    condition: domain.x\n    then: [a]\n")
	_, err := w.Run(valuesErrHost{newFakeHost(nil)}, RunOptions{})
	var fe *Error
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, CodeCondition, fe.Code)
	assert.Same(t, errBoom, fe.Unwrap())
}

func TestRunConcurrent(t *testing.T) {
	w := mustParse(t, "steps:\n  - flux: while\n    condition: domain.n < 50\n    do: [inc]\n")
	done := make(chan error)
	for range 4 {
		go func() {
			h := newFakeHost(map[string]any{"domain": map[string]any{"n": int64(0)}})
			h.procs["inc"] = incr("domain", "n")
			tr, err := w.Run(h, RunOptions{})
			if err == nil && len(tr.Executed) != 50 {
				err = fmt.Errorf("executed %d", len(tr.Executed))
			}
			done <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-done)
	}
}

// noopHost runs nothing and reads nothing.
type noopHost struct{}

func (noopHost) Run(*ProcessStep) error             { return nil }
func (noopHost) Values(p [][]string) ([]any, error) { return make([]any, len(p)), nil }
func (noopHost) Interrupted() error                 { return nil }

func BenchmarkStep(b *testing.B) {
	var src strings.Builder
	src.WriteString("steps:\n")
	for i := range 100 {
		fmt.Fprintf(&src, "  - p%d\n", i)
	}
	w := mustParse(b, src.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Run(noopHost{}, RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/step")
}
