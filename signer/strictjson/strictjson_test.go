package strictjson_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/segl/segl/signer/strictjson"
)

type inner struct {
	Amount string `json:"amountMinor"`
}

type base struct {
	Kind string `json:"kind"`
}

type request struct {
	base
	UserID  string            `json:"userId,omitempty"`
	Payment *inner            `json:"payment,omitempty"`
	List    []inner           `json:"list,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Raw     json.RawMessage   `json:"raw,omitempty"`
	Skipped string            `json:"-"`
	File    []byte            `json:"file,omitempty"`
}

func TestRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate":                  `{"userId":"nobody","userId":"alice"}`,
		"duplicate by escape":        `{"userId":"nobody","user\u0049d":"alice"}`,
		"duplicate nested":           `{"payment":{"amountMinor":"1","amountMinor":"2"}}`,
		"duplicate in a list":        `{"list":[{"amountMinor":"1"},{"amountMinor":"1","amountMinor":"2"}]}`,
		"duplicate map key":          `{"tags":{"a":"1","a":"2"}}`,
		"duplicate in a raw message": `{"raw":{"a":1,"a":2}}`,
		"miscased":                   `{"USERID":"alice"}`,
		"miscased nested":            `{"payment":{"AmountMinor":"1"}}`,
		"unknown":                    `{"personalNumber":"1"}`,
		"a skipped field":            `{"Skipped":"x"}`,
		"trailing":                   `{"userId":"a"} {}`,
		"truncated":                  `{"userId":`,
		"too deep":                   `{"raw":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		"not an object":              `{"payment":[1]}`,
	} {
		var r request
		if err := strictjson.Unmarshal([]byte(body), &r); err == nil {
			t.Errorf("%s: %s was accepted as %+v", name, body, r)
		}
	}
	var r request
	err := strictjson.Unmarshal([]byte(`{"USERID":"alice"}`), &r)
	if err == nil || !strings.Contains(err.Error(), `"userId"`) {
		t.Fatalf("a miscased member is not named: %v", err)
	}
}

func TestAccepts(t *testing.T) {
	body := `{"kind":"k","userId":"alice","payment":{"amountMinor":"12995"},"list":[{"amountMinor":"1"}],"tags":{"a":"1","b":"2"},"raw":{"x":[1,{"y":null}]},"file":"AAE="}`
	var got request
	if err := strictjson.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var want request
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// FuzzUnmarshal: no input panics; whatever is accepted decodes as
// encoding/json decodes it, and has no duplicated member.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"userId":"a"}`, `{"userId":"a","userId":"b"}`, `{"payment":{"amountMinor":"1"}}`, `{"raw":[[[]]]}`, `{"tags":{}}`, `{"USERID":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got request
		if err := strictjson.Unmarshal([]byte(s), &got); err != nil {
			return
		}
		var want request
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%q accepted, but encoding/json refuses it: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, encoding/json %+v", s, got, want)
		}
	})
}
