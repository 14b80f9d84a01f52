package flux

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error codes carried by [Error.Code]. They are stable: callers match on them, never on the
// message text.
const (
	// CodeYAML: the text is not valid YAML, holds more than one document, or is too large.
	CodeYAML = "yaml"
	// CodeNotAMapping: a value that must be a mapping (the top level, a step, `with`) is not.
	CodeNotAMapping = "not_a_mapping"
	// CodeNotAList: `steps`, `then`, `else`, `do` is not a list.
	CodeNotAList = "not_a_list"
	// CodeUnknownKey: a key not allowed at that place (typos included).
	CodeUnknownKey = "unknown_key"
	// CodeDuplicateKey: the same key twice in one mapping.
	CodeDuplicateKey = "duplicate_key"
	// CodeMissingKey: a required key (`steps`, `condition`, `then`, `do`) is absent.
	CodeMissingKey = "missing_key"
	// CodeUnknownKind: `flux:` names a kind other than if, while, run.
	CodeUnknownKind = "unknown_kind"
	// CodeInvalidStep: a step is neither a process name nor a mapping with exactly one of
	// `process` and `flux`.
	CodeInvalidStep = "invalid_step"
	// CodeInvalidValue: a value has the wrong type or range (empty process name, bad
	// max_iterations, non-string key in `with`, ...).
	CodeInvalidValue = "invalid_value"
	// CodeEmptyBody: a while loop whose `do` is empty; it could only spin.
	CodeEmptyBody = "empty_body"
	// CodeConditionSyntax: a condition does not compile.
	CodeConditionSyntax = "condition_syntax"
	// CodeConditionType: a condition's type is known at load time and is not boolean.
	CodeConditionType = "condition_type"
	// CodeUnknownProcess: [Workflow.Check] found a process name that is not registered.
	CodeUnknownProcess = "unknown_process"
	// CodeUnknownZone: [Workflow.CheckZones] found a condition reading a top-level name
	// that is not a zone of the state.
	CodeUnknownZone = "unknown_zone"
	// CodeUnknownArg: a `with:` reference (`${args.x}`) or a condition (`args.x`) names a run
	// argument the workflow does not declare under `args:`.
	CodeUnknownArg = "unknown_arg"
	// CodeCondition: a condition failed while running (wrong types in the data, non-boolean
	// result, or the state could not be read).
	CodeCondition = "condition"
	// CodeStep: a process step failed; [Error.Err] is the process's own error.
	CodeStep = "step"
	// CodeBudget: the run used up its operation budget ([RunOptions.Budget]).
	CodeBudget = "budget"
	// CodeMaxIterations: a while loop ran more iterations than its max_iterations.
	CodeMaxIterations = "max_iterations"
)

// Pos is a position in a workflow's source. Line and Col are 1-based; Col counts characters
// (runes), not bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as "file:line:col".
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is every error flux reports, at load time and at run time. It stays data until it
// reaches the Python boundary: match it with errors.As and switch on Code.
type Error struct {
	// Pos is where the problem is: the offending key or value, the step that failed, or the
	// character inside a condition.
	Pos Pos
	// Code is one of the Code* constants.
	Code string
	// Msg says what is wrong and, when there is one, the fix. It has no position prefix.
	Msg string
	// Snippet is the source line at Pos and a caret line under Pos.Col, joined by a newline;
	// empty when the source line is unknown.
	Snippet string
	// Err is the cause: the process's error for CodeStep, the expression error for
	// condition codes, nil otherwise.
	Err error
	// Step is the name of the process step that failed, for CodeStep.
	Step string
}

// Error formats e as "file:line:col: flux: msg", followed by the snippet on its own lines.
func (e *Error) Error() string {
	head := e.Pos.String() + ": flux: " + e.Msg
	if e.Snippet == "" {
		return head
	}
	return head + "\n" + e.Snippet
}

// Unwrap returns the cause unchanged, so a process's exception can be re-raised as the same
// object.
func (e *Error) Unwrap() error { return e.Err }

// source is a workflow's text split into lines, kept for snippets.
type source struct {
	file  string
	lines []string
}

func newSource(src []byte, file string) *source {
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	return &source{file: file, lines: strings.Split(text, "\n")}
}

// line returns the 1-based line n, or "" when out of range.
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return s.lines[n-1]
}

// pos builds a Pos clamped into the source: Line >= 1, Col >= 1 and at most one past the end
// of its line.
func (s *source) pos(line, col int) Pos {
	if line < 1 {
		line = 1
	}
	if line > len(s.lines) {
		line = len(s.lines)
	}
	if last := utf8.RuneCountInString(s.line(line)) + 1; col > last {
		col = last
	}
	if col < 1 {
		col = 1
	}
	return Pos{File: s.file, Line: line, Col: col}
}

// snippet renders the line at p and a caret under p.Col. Tabs before the caret are kept so
// the caret lines up in a terminal.
func (s *source) snippet(p Pos) string {
	text := s.line(p.Line)
	if strings.TrimSpace(text) == "" {
		return ""
	}
	var caret strings.Builder
	i := 1
	for _, r := range text {
		if i >= p.Col {
			break
		}
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
		i++
	}
	for ; i < p.Col; i++ {
		caret.WriteByte(' ')
	}
	caret.WriteByte('^')
	return text + "\n" + caret.String()
}

// errorf builds an *Error at line:col with its snippet.
func (s *source) errorf(line, col int, code string, cause error, format string, args ...any) *Error {
	p := s.pos(line, col)
	return &Error{Pos: p, Code: code, Msg: fmt.Sprintf(format, args...), Snippet: s.snippet(p), Err: cause}
}

// errorAt builds an *Error at an already computed position.
func (s *source) errorAt(p Pos, code string, cause error, format string, args ...any) *Error {
	return &Error{Pos: p, Code: code, Msg: fmt.Sprintf(format, args...), Snippet: s.snippet(p), Err: cause}
}
