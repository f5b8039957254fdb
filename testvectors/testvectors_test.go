package testvectors_test

import (
	"strings"
	"testing"

	"github.com/segl/segl/testvectors"
)

func TestShippedFilesParse(t *testing.T) {
	files, err := testvectors.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	algos := map[string]int{}
	for _, f := range files {
		algos[f.Algorithm] += len(f.Cases)
	}
	if algos["hotp"] != 10 || algos["totp"] != 18 || algos["app-approval"] == 0 {
		t.Fatalf("cases by algorithm: %v", algos)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"no source":     `{"algorithm":"hotp","version":1,"cases":[{"name":"a","input":{},"expected":{}}]}`,
		"version 2":     `{"algorithm":"hotp","version":2,"source":"s","cases":[{"name":"a","input":{},"expected":{}}]}`,
		"unknown field": `{"algorithm":"hotp","version":1,"source":"s","extra":1,"cases":[{"name":"a","input":{},"expected":{}}]}`,
		"unnamed case":  `{"algorithm":"hotp","version":1,"source":"s","cases":[{"input":{},"expected":{}}]}`,
		"duplicate":     `{"algorithm":"hotp","version":1,"source":"s","cases":[{"name":"a","input":{},"expected":{}},{"name":"a","input":{},"expected":{}}]}`,
		"truncated":     `{"algorithm":"hotp","version":1,"source":"s","cases":[{"name":"a"`,
		"no cases":      `{"algorithm":"hotp","version":1,"source":"s","cases":[]}`,
	} {
		if _, err := testvectors.Parse(name, strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"algorithm":"hotp","version":1,"source":"s","cases":[{"name":"a","input":{"key":"00"},"expected":{"otp":"1"}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		file, err := testvectors.Parse("fuzz", strings.NewReader(s))
		if err == nil && (file.Source == "" || len(file.Cases) == 0) {
			t.Fatal("accepted a file without source or cases")
		}
	})
}
