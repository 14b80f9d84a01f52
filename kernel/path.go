package kernel

import (
	"fmt"
	"strings"
)

// Path addresses a node in the state tree, one segment per level:
// Path{"domain", "user", "name"} is written "domain.user.name".
type Path []string

// ParsePath splits a dotted path such as "domain.user.name" into its
// segments. It returns a *PathError with Code "empty" for the empty string
// and Code "malformed" when any segment is empty (".a", "a..b", "a.").
func ParsePath(s string) (Path, error) {
	if s == "" {
		return nil, &PathError{Path: s, Code: CodeEmpty, Msg: "empty path"}
	}
	p := Path(strings.Split(s, "."))
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// String returns the dotted form of p.
func (p Path) String() string {
	switch len(p) {
	case 0:
		return ""
	case 1:
		return p[0]
	}
	return strings.Join(p, ".")
}

// check reports a *PathError when p is empty or has an empty segment.
func (p Path) check() error {
	if len(p) == 0 {
		return &PathError{Path: "", Code: CodeEmpty, Msg: "empty path"}
	}
	for _, seg := range p {
		if seg == "" {
			return &PathError{Path: p.String(), Code: CodeMalformed, Msg: "empty path segment"}
		}
		if strings.IndexByte(seg, '.') >= 0 {
			return &PathError{Path: p.String(), Code: CodeMalformed, Msg: fmt.Sprintf("path segment %q contains \".\"", seg)}
		}
	}
	return nil
}

// hasPrefix reports whether q is a prefix of p (or equal to it).
func (p Path) hasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// comparePaths orders paths segment by segment, so that a path sorts
// directly before the paths below it.
func comparePaths(a, b Path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
