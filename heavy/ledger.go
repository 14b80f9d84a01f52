package heavy

import "sync/atomic"

// Totals is a count of heavy values and the bytes they span (each value's nbytes: a broadcast
// view counts what it spans, not the memory under it).
type Totals struct {
	Values int64
	Bytes  int64
}

// Add returns the sum of t and u.
func (t Totals) Add(u Totals) Totals {
	return Totals{Values: t.Values + u.Values, Bytes: t.Bytes + u.Bytes}
}

// Ledger counts the heavy values a state holds. The zero Ledger is empty and ready to use; it
// is safe for concurrent use (commits and releases run on any thread).
type Ledger struct {
	values atomic.Int64
	bytes  atomic.Int64
}

// Hold records t as held (a commit storing heavy values).
func (l *Ledger) Hold(t Totals) {
	l.values.Add(t.Values)
	l.bytes.Add(t.Bytes)
}

// Drop records t as no longer held (a failed commit, or a release).
func (l *Ledger) Drop(t Totals) {
	l.values.Add(-t.Values)
	l.bytes.Add(-t.Bytes)
}

// Totals returns what is held now.
func (l *Ledger) Totals() Totals {
	return Totals{Values: l.values.Load(), Bytes: l.bytes.Load()}
}
