package main

import "C"

import (
	"fmt"
	"unsafe"

	"go.yaml.in/yaml/v3"

	"github.com/theus-dev/theus/capi/py"
)

// go_yaml_load parses one YAML document (a context file for the `theus` command) into plain
// Python data: mappings with str keys, lists, str, int, float, bool and None.
//
//export go_yaml_load
func go_yaml_load(args unsafe.Pointer, n int, ints *C.longlong, ok C.uint) (res unsafe.Pointer) {
	defer py.Recover(&res)
	py.Enter()
	a, _, err := newCall("yaml_load", args, n, ints, ok, 2)
	if err != nil {
		return fail(err)
	}
	text, err := py.Str(a[0])
	if err != nil {
		return fail(argErrorf("yaml_load: text: expected str, got %s", py.TypeName(a[0])))
	}
	file, err := py.Str(a[1])
	if err != nil {
		return fail(argErrorf("yaml_load: file: expected str, got %s", py.TypeName(a[1])))
	}
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return fail(argErrorf("%s: not valid YAML: %v", file, err))
	}
	plain, err := plainYAML(doc, file)
	if err != nil {
		return fail(err)
	}
	o, err := py.FromGo(plain)
	if err != nil {
		return fail(err)
	}
	return result(o)
}

// plainYAML checks that a decoded document holds only what FromGo converts.
func plainYAML(v any, file string) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, float64, int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint64:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			var err error
			if out[i], err = plainYAML(it, file); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			var err error
			if out[k], err = plainYAML(it, file); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, argErrorf("%s: a %s value cannot be part of a context (use mappings with string keys, lists, strings, numbers, booleans and null)", file, fmt.Sprintf("%T", v))
}
