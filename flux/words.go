package flux

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Messages from expr-lang name Go types and sometimes carry Go's own error text; users
// write Python. plainWords rewrites them into the words of the values they hold.
var goWords = strings.NewReplacer(
	"map[string]interface {}", "dict",
	"map[string]any", "dict",
	"[]interface {}", "list",
	"[]any", "list",
	"*big.Int", "int",
	"big.Int", "int",
	"flux.Opaque", "object",
	"interface {}", "value",
	"float64", "float",
	"int64", "int",
	"<nil>", "None",
	"runtime error: integer divide by zero", "division by zero",
	"runtime error: ", "",
	"strconv.ParseInt: ", "",
	"strconv.ParseFloat: ", "",
	"strconv.Atoi: ", "",
	"reflect: ", "",
)

var (
	goString   = regexp.MustCompile(`\bstring\b`)
	goLocation = regexp.MustCompile(` \(\d+:\d+\)$`)
	reflectOp  = regexp.MustCompile(`call of reflect\.Value\.\w+ on (zero )?Value`)
	fetch      = regexp.MustCompile(`cannot fetch (\S+) from (\S+)`)
)

// plainWords returns msg without Go type names and Go error prefixes.
func plainWords(msg string) string {
	msg = goLocation.ReplaceAllString(msg, "")
	msg = reflectOp.ReplaceAllString(msg, "unsupported operation on this value")
	msg = goWords.Replace(msg)
	msg = goString.ReplaceAllString(msg, "str")
	return fetch.ReplaceAllString(msg, "cannot read `$1` from a value of type $2 (only a dict has keys, only a list has [index] items)")
}

// goTypeWords names a Go type in the words of plainWords.
func goTypeWords(t string) string { return plainWords(t) }

// repr renders a condition value as Python would print it, shortened past 80 characters.
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, 0)
	s := b.String()
	if r := []rune(s); len(r) > 80 {
		return string(r[:77]) + "..."
	}
	return s
}

func writeRepr(b *strings.Builder, v any, depth int) {
	if depth > 8 || b.Len() > 200 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		switch {
		case math.IsInf(x, 1):
			b.WriteString("inf")
		case math.IsInf(x, -1):
			b.WriteString("-inf")
		case math.IsNaN(x):
			b.WriteString("nan")
		case x == math.Trunc(x) && math.Abs(x) < 1e16:
			b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		default:
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case string:
		b.WriteString("'" + strings.ReplaceAll(x, "'", `\'`) + "'")
	case []any:
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it, depth+1)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, depth+1)
			b.WriteString(": ")
			writeRepr(b, x[k], depth+1)
		}
		b.WriteByte('}')
	case Set:
		if len(x) == 0 {
			b.WriteString("frozenset()")
			break
		}
		b.WriteByte('{')
		for i, it := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, it, depth+1)
		}
		b.WriteByte('}')
	case Opaque:
		b.WriteString("<" + x.typ + ">")
	default:
		b.WriteString(plainWords(fmt.Sprint(x)))
	}
}
