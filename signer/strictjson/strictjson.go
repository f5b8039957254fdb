// Package strictjson decodes JSON the way the API's schemas describe it,
// where encoding/json is lenient: a member given twice in one object is
// refused (encoding/json keeps the last, so {"userId":"nobody",
// "userId":"alice"} would act for alice behind a gateway that checked the
// first), and so is a member that names a field only in another case
// ("USERID" for "userId"), one that names no field, and anything after
// the value. A gateway that validates against openapi.yaml and segld then
// read every body the same way.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// MaxDepth bounds how deeply objects and arrays may nest.
const MaxDepth = 32

// Unmarshal decodes exactly one JSON value from data into v, a pointer.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("strictjson: Unmarshal needs a non-nil pointer")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := value(dec, rv.Type().Elem(), "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var (
	rawMessage  = reflect.TypeFor[json.RawMessage]()
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// value walks one JSON value, t being the Go type it will decode into, or
// nil when that type does not constrain its members.
func value(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t == rawMessage || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshaler)) {
		t = nil // any shape: only duplicates are refused below
	}
	tok, err := dec.Token()
	if err != nil {
		return syntax(path, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth == MaxDepth {
		return fmt.Errorf("%s: nested more than %d deep", where(path), MaxDepth)
	}
	switch d {
	case '{':
		return object(dec, t, path, depth)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := value(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return syntax(path, err)
	}
	return fmt.Errorf("%s: unexpected %v", where(path), d)
}

func object(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = map[string]reflect.Type{}
			collect(t, fields)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(path, err)
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%s: a member name must be a string", where(path))
		}
		at := path + "." + name
		if path == "" {
			at = name
		}
		if seen[name] {
			return fmt.Errorf("%s is given twice", at)
		}
		seen[name] = true
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[name]; !ok {
				for f := range fields {
					if strings.EqualFold(f, name) {
						return fmt.Errorf("%s is not a member (names are case-sensitive: %q)", at, f)
					}
				}
				return fmt.Errorf("%s is not a member of %s", at, where(path))
			}
		}
		if err := value(dec, ft, at, depth+1); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return syntax(path, err)
}

// collect adds the JSON member names of struct t, as encoding/json sees
// them (embedded structs' fields promoted), with their types.
func collect(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collect(ft, fields)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		fields[tag] = f.Type
	}
}

func where(path string) string {
	if path == "" {
		return "the body"
	}
	return path
}

func syntax(path string, err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		return fmt.Errorf("%s: the JSON ends too soon", where(path))
	}
	return fmt.Errorf("%s: %v", where(path), err)
}
