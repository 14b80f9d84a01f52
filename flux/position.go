package flux

import "go.yaml.in/yaml/v3"

// scalarAt returns a function mapping a rune offset inside scalar n's decoded value to its
// position in the source. It is exact for single-line plain, single-quoted and double-quoted
// scalars and for block scalars whose lines are kept as written; anywhere else it falls back
// to the scalar's own position.
func scalarAt(s *source, n *yaml.Node) func(int) Pos {
	value := []rune(n.Value)
	return func(off int) Pos {
		off = max(0, min(off, len(value)))
		if line, col, ok := locate(s, n, value, off); ok {
			return s.pos(line, col)
		}
		return s.pos(n.Line, n.Column)
	}
}

func locate(s *source, n *yaml.Node, value []rune, off int) (line, col int, ok bool) {
	raw := []rune(s.line(n.Line))
	start := n.Column - 1
	if start < 0 || start > len(raw) {
		return 0, 0, false
	}
	switch n.Style &^ yaml.TaggedStyle {
	case 0:
		end := start + len(value)
		if end > len(raw) || string(raw[start:end]) != n.Value {
			return 0, 0, false
		}
		return n.Line, n.Column + off, true
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		j := start + 1
		for i := 0; i < off; i++ {
			if j >= len(raw) {
				return 0, 0, false
			}
			step := 1
			switch {
			case n.Style == yaml.SingleQuotedStyle && raw[j] == '\'':
				if j+1 >= len(raw) || raw[j+1] != '\'' {
					return 0, 0, false
				}
				step = 2
			case n.Style == yaml.DoubleQuotedStyle && raw[j] == '"':
				return 0, 0, false
			case n.Style == yaml.DoubleQuotedStyle && raw[j] == '\\':
				if j+1 >= len(raw) {
					return 0, 0, false
				}
				switch raw[j+1] {
				case 'x':
					step = 4
				case 'u':
					step = 6
				case 'U':
					step = 10
				default:
					step = 2
				}
			}
			j += step
		}
		if j > len(raw) {
			return 0, 0, false
		}
		return n.Line, j + 1, true
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return locateBlock(s, n, value, off)
	}
	return 0, 0, false
}

// locateBlock maps an offset in a `|` or `>` scalar by walking its content lines. It checks
// that the text at the found place matches the value, so folding it cannot follow gives a
// fallback rather than a wrong column.
func locateBlock(s *source, n *yaml.Node, value []rune, off int) (line, col int, ok bool) {
	indent := -1
	rest := off
	for ln := n.Line + 1; ln <= len(s.lines); ln++ {
		raw := []rune(s.line(ln))
		lead := 0
		for lead < len(raw) && raw[lead] == ' ' {
			lead++
		}
		if lead == len(raw) {
			if indent >= 0 {
				rest--
			}
			continue
		}
		if indent < 0 {
			indent = lead
		} else if lead < indent {
			return 0, 0, false
		}
		text := raw[indent:]
		if rest <= len(text) {
			tail := text[rest:]
			want := value[off:]
			k := min(len(tail), len(want))
			if string(tail[:k]) != string(want[:k]) {
				return 0, 0, false
			}
			return ln, indent + 1 + rest, true
		}
		rest -= len(text) + 1
		if rest < 0 {
			return 0, 0, false
		}
	}
	return 0, 0, false
}
