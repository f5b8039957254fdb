package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	typeOfConfig   = reflect.TypeFor[Config]()
	typeOfDuration = reflect.TypeFor[Duration]()
	typeOfDatabase = reflect.TypeFor[Database]()
)

// checkNode holds a YAML node to the Go type it will decode into, and
// notes every key that is unknown or given twice and every value of the
// wrong kind, each at its path.
func checkNode(n *yaml.Node, t reflect.Type, path string, e *errs) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // left out: the default
	}
	switch {
	case t == typeOfDuration:
		if n.Kind != yaml.ScalarNode {
			e.add(path, "is %s, want a duration like 3m or 90s", kindName(n))
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			e.add(path, "%q is not a duration like 3m or 90s", n.Value)
		}
	case t == typeOfDatabase && n.Kind != yaml.MappingNode:
		// The string form: a SQLite file's path or a PostgreSQL URL.
		if n.Kind != yaml.ScalarNode {
			e.add(path, "is %s, want a SQLite file's path, a PostgreSQL URL or a mapping of keys (url:, password-file:)", kindName(n))
		} else {
			checkNode(n, reflect.TypeFor[string](), path, e)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			e.add(path, "is %s, want a mapping of keys", kindName(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			at := join(path, k.Value)
			if line, ok := seen[k.Value]; ok {
				e.add(at, "is given twice (lines %d and %d)", line, k.Line)
				continue
			}
			seen[k.Value] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				e.add(at, "unknown key%s", suggest(k.Value, path, fields))
				continue
			}
			checkNode(v, ft, at, e)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			e.add(path, "is %s, want a mapping", kindName(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			at := join(path, k.Value)
			if line, ok := seen[k.Value]; ok {
				e.add(at, "is given twice (lines %d and %d)", line, k.Line)
				continue
			}
			seen[k.Value] = k.Line
			checkNode(v, t.Elem(), at, e)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			e.add(path, "is %s, want a list", kindName(n))
			return
		}
		for i, item := range n.Content {
			checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), e)
		}
	case n.Kind != yaml.ScalarNode:
		e.add(path, "is %s, want %s", kindName(n), goKind(t))
	case t.Kind() == reflect.Int:
		if _, err := strconv.Atoi(n.Value); err != nil {
			e.add(path, "%q is not a whole number", n.Value)
		}
	case t.Kind() == reflect.String:
		if n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool" {
			e.add(path, "%q is not text", n.Value)
		}
	}
}

// yamlFields are a struct's YAML keys and their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return "a whole number"
	case reflect.String:
		return "text"
	}
	return t.String()
}

// suggest names the key that was probably meant: one of the same
// mapping within two edits, or the same key under another section.
func suggest(key, path string, fields map[string]reflect.Type) string {
	var best string
	bestD := 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if d := distance(key, f); d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		for _, f := range names {
			if strings.HasPrefix(f, key+"-") || strings.HasPrefix(key, f+"-") {
				best = f
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", join(path, best))
	}
	for _, p := range KeyPaths() {
		if p == key || strings.HasSuffix(p, "."+key) {
			return fmt.Sprintf(" (did you mean %s?)", p)
		}
	}
	return ""
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// KeyPaths lists every key of the config by its YAML path, in the order of the
// structs ("officers[].id" for a list's items): what docs/config.md must
// document.
func KeyPaths() []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			at := join(path, name)
			switch {
			case f.Type == typeOfDatabase:
				// A string, or a block of these keys.
				out = append(out, at)
				walk(f.Type, at)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, at)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), at+"[]")
			case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), at+".*")
			default:
				out = append(out, at)
			}
		}
	}
	walk(typeOfConfig, "")
	return out
}
