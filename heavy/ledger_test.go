package heavy_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/theus-dev/theus/heavy"
)

func TestLedger(t *testing.T) {
	big := heavy.Totals{Values: 1, Bytes: 500 << 20}
	small := heavy.Totals{Values: 1, Bytes: 1024}
	tests := []struct {
		name string
		run  func(*heavy.Ledger)
		want heavy.Totals
	}{
		{"empty", func(*heavy.Ledger) {}, heavy.Totals{}},
		{"hold", func(l *heavy.Ledger) { l.Hold(big) }, big},
		{"hold two", func(l *heavy.Ledger) { l.Hold(big.Add(small)) }, heavy.Totals{Values: 2, Bytes: 500<<20 + 1024}},
		{"replace", func(l *heavy.Ledger) { l.Hold(big); l.Hold(big); l.Drop(big) }, big},
		{"failed commit", func(l *heavy.Ledger) { l.Hold(small); l.Drop(small) }, heavy.Totals{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l heavy.Ledger
			tc.run(&l)
			if got := l.Totals(); got != tc.want {
				t.Fatalf("Totals() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestLedgerConcurrent runs holds and drops from many goroutines (run with -race): the books
// balance whatever the interleaving.
func TestLedgerConcurrent(t *testing.T) {
	var l heavy.Ledger
	var wg sync.WaitGroup
	one := heavy.Totals{Values: 1, Bytes: 4096}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				l.Hold(one)
				l.Drop(one)
			}
			l.Hold(one)
		}()
	}
	wg.Wait()
	if got, want := l.Totals(), (heavy.Totals{Values: 8, Bytes: 8 * 4096}); got != want {
		t.Fatalf("Totals() = %+v, want %+v", got, want)
	}
}

func ExampleLedger() {
	var l heavy.Ledger
	frame := heavy.Totals{Values: 1, Bytes: 500 << 20}
	l.Hold(frame) // a commit stores a 500 MB array
	l.Hold(frame) // the next commit replaces it...
	l.Drop(frame) // ...and the kernel releases the old one
	fmt.Printf("%+v\n", l.Totals())
	// Output: {Values:1 Bytes:524288000}
}
