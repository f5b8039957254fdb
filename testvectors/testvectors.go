// Package testvectors holds the vector files auditors replay through the
// production code (`segl vectors verify`: against a live HSM, or in
// software for the algorithms segld runs in software, qr and
// app-approval), and their loader. Each file names its source; no case in
// it was produced by the code it checks.
//
// Format (DESIGN "Vector files"):
//
//	{"algorithm": "hotp", "version": 1, "source": "…",
//	 "cases": [{"name": "…", "input": {…}, "expected": {…}}]}
package testvectors

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

//go:embed *.json
var shipped embed.FS

// File is one vector file.
type File struct {
	Name      string `json:"-"` // where it was read from
	Algorithm string `json:"algorithm"`
	Version   int    `json:"version"`
	Source    string `json:"source"`
	Cases     []Case `json:"cases"`
}

// Case is one input and what it must give.
type Case struct {
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
}

// maxFile bounds a vector file an auditor brings.
const maxFile = 32 << 20

// Parse reads one vector file strictly: unknown fields, a missing source,
// an unnamed case or a case without input or expected are errors.
func Parse(name string, r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFile)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	f := &File{Name: name}
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the JSON object", name)
	}
	switch {
	case f.Algorithm == "":
		return nil, fmt.Errorf("%s: algorithm is missing", name)
	case f.Version != 1:
		return nil, fmt.Errorf("%s: version %d; this segl reads version 1", name, f.Version)
	case f.Source == "":
		return nil, fmt.Errorf("%s: source is missing: say where the cases come from", name)
	case len(f.Cases) == 0:
		return nil, fmt.Errorf("%s: no cases", name)
	}
	seen := map[string]bool{}
	for i, c := range f.Cases {
		if c.Name == "" {
			return nil, fmt.Errorf("%s: case %d has no name", name, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%s: two cases are named %q", name, c.Name)
		}
		seen[c.Name] = true
		if len(c.Input) == 0 || len(c.Expected) == 0 {
			return nil, fmt.Errorf("%s: case %q needs input and expected", name, c.Name)
		}
	}
	return f, nil
}

// Load reads a vector file from disk.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Shipped returns the vector files that come with Segl, by name.
func Shipped() ([]*File, error) {
	names, err := fs.Glob(shipped, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var files []*File
	for _, n := range names {
		b, err := shipped.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, err := Parse(n, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("no vector files are shipped")
	}
	return files, nil
}

// Decode decodes a case's input or expected strictly into v.
func Decode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// AppApprovalInput is the input of an app-approval case (DESIGN's table):
// the device's public key (base64 DER SubjectPublicKeyInfo), the fields
// of App approval v1 (userVisibleData in base64) and the signature
// (base64 DER).
type AppApprovalInput struct {
	PublicKey        string `json:"publicKey"`
	OrderRef         string `json:"orderRef"`
	Challenge        string `json:"challenge"`
	UserVisibleData  string `json:"userVisibleData"`
	AmountMinor      string `json:"amountMinor"`
	Currency         string `json:"currency"`
	Payee            string `json:"payee"`
	Decision         string `json:"decision"`
	UserVerification string `json:"userVerification"`
	Signature        string `json:"signature"`
}
