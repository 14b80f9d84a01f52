package flux_test

import (
	"errors"
	"fmt"

	"github.com/theus-dev/theus/flux"
)

// counterHost is a minimal Host: one counter, one process that increments it.
type counterHost struct{ counter int64 }

func (h *counterHost) Run(s *flux.ProcessStep) error {
	if s.Name == "increment" {
		h.counter++
	}
	return nil
}

func (h *counterHost) Values(paths [][]string) ([]any, error) {
	out := make([]any, len(paths))
	for i, p := range paths {
		if len(p) == 2 && p[0] == "domain" && p[1] == "counter" {
			out[i] = h.counter
		} else {
			out[i] = flux.Missing{}
		}
	}
	return out, nil
}

func (h *counterHost) Interrupted() error { return nil }

func Example() {
	w, err := flux.Parse([]byte(`
name: count_to_three
steps:
  - flux: while
    condition: domain.counter < 3
    do: [increment]
  - flux: if
    condition: domain.counter == 3 and domain.flag == None
    then: [report]
`), "count.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	trace, err := w.Run(&counterHost{}, flux.RunOptions{})
	fmt.Println(trace.Executed, err)
	// Output: [increment increment increment report] <nil>
}

func ExampleParse_error() {
	_, err := flux.Parse([]byte(`steps:
  - flux: while
    condtion: domain.counter < 3
    do: [increment]
`), "count.yaml")
	fmt.Println(err)
	var fe *flux.Error
	if errors.As(err, &fe) {
		fmt.Println(fe.Code, fe.Pos.Line, fe.Pos.Col)
	}
	// Output:
	// count.yaml:3:5: flux: unknown key `condtion` in a while step (did you mean `condition`? allowed: flux, condition, max_iterations, do)
	//     condtion: domain.counter < 3
	//     ^
	// unknown_key 3 5
}

func ExampleWorkflow_Check() {
	w, _ := flux.Parse([]byte("steps: [validate_order, charge_crad]"), "")
	fmt.Println(w.ProcessNames())
	fmt.Println(w.Check([]string{"validate_order", "charge_card"}))
	// Output:
	// [validate_order charge_crad]
	// <string>:1:25: flux: unknown process "charge_crad" (did you mean "charge_card"?)
	// steps: [validate_order, charge_crad]
	//                         ^
}

func ExampleCondition_Paths() {
	w, _ := flux.Parse([]byte(`
steps:
  - flux: if
    condition: len(domain.items) > 0 and domain.items[0] != None and global["vip"]
    then: [ship]
`), "")
	fmt.Println(w.Steps[0].(*flux.IfStep).Condition.Paths())
	// Output: [[domain items] [global vip]]
}
