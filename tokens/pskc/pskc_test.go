package pskc_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/pskc"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testvectors/pskc/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRFC6030Figure2(t *testing.T) {
	b, err := pskc.Parse(bytes.NewReader(load(t, "rfc6030-figure2.pskc")))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tokens) != 1 {
		t.Fatalf("%d tokens", len(b.Tokens))
	}
	tok := b.Tokens[0]
	if tok.Serial != "987654321" || tok.Kind != "hotp" || tok.Digits != 8 || tok.Counter != 0 || tok.Hash != otp.SHA1 {
		t.Fatalf("%+v", tok)
	}
	if got := hex.EncodeToString(tok.Secret()); got != "3132333435363738393031323334353637383930" {
		t.Fatalf("seed %s", got)
	}
	b.Zero()
	if !bytes.Equal(tok.Secret(), make([]byte, 20)) {
		t.Fatal("Zero left the seed")
	}
}

func TestRFC6030Figure1IsRefused(t *testing.T) {
	_, err := pskc.Parse(bytes.NewReader(load(t, "rfc6030-figure1.pskc")))
	if err == nil || !strings.Contains(err.Error(), "KeyPackage 1") || !strings.Contains(err.Error(), "SerialNo") {
		t.Fatalf("%v", err)
	}
}

const pkg = `<KeyPackage><DeviceInfo><SerialNo>%s</SerialNo></DeviceInfo>
<Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:%s"><AlgorithmParameters>%s<ResponseFormat Length="%s" Encoding="DECIMAL"/></AlgorithmParameters>
<Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>%s</Data></Key></KeyPackage>`

func container(pkgs ...string) string {
	return `<?xml version="1.0"?><KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">` + strings.Join(pkgs, "") + `</KeyContainer>`
}

func p(serial, algo, suite, length, extra string) string {
	return sprintf(pkg, serial, algo, suite, length, extra)
}

func sprintf(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a, 1)
	}
	return format
}

func TestBatch(t *testing.T) {
	good := container(
		p("A1", "hotp", "", "6", "<Counter><PlainValue>42</PlainValue></Counter>"),
		p("A2", "totp", "<Suite>HMAC-SHA256</Suite>", "8", "<TimeInterval><PlainValue>60</PlainValue></TimeInterval>"),
	)
	b, err := pskc.Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if b.Tokens[0].Counter != 42 || b.Tokens[1].Kind != "totp" || b.Tokens[1].Step != 60 || b.Tokens[1].Hash != otp.SHA256 {
		t.Fatalf("%+v %+v", b.Tokens[0], b.Tokens[1])
	}
	// One bad package rejects the whole file, and the error names it.
	for name, tc := range map[string]struct{ doc, want string }{
		"duplicate serial":  {container(p("A1", "hotp", "", "6", ""), p("A1", "hotp", "", "6", "")), "KeyPackage 2: serial A1 is also KeyPackage 1's"},
		"unknown algorithm": {container(p("A1", "hotp", "", "6", ""), p("B2", "ocra", "", "6", "")), "KeyPackage 2 (serial B2): Algorithm"},
		"seven digits":      {container(p("A1", "hotp", "", "7", "")), "Length \"7\""},
		"bad suite":         {container(p("A1", "hotp", "<Suite>MD5</Suite>", "6", "")), "Suite"},
		"truncated":         {container(p("A1", "hotp", "", "6", ""))[:200], "not a PSKC KeyContainer"},
		"trailing data":     {container(p("A1", "hotp", "", "6", "")) + "<x/>", "after the KeyContainer"},
		"wrong namespace":   {strings.Replace(container(p("A1", "hotp", "", "6", "")), "keyprov:pskc\"", "keyprov:other\"", 1), "not a PSKC"},
		"no packages":       {container(), "no KeyPackage"},
		"odd step":          {container(p("A1", "totp", "", "6", "<TimeInterval><PlainValue>45</PlainValue></TimeInterval>")), "TimeInterval"},
	} {
		_, err := pskc.Parse(strings.NewReader(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
	enc := strings.Replace(container(p("A1", "hotp", "", "6", "")), "<KeyPackage>", `<EncryptionKey><KeyName xmlns="http://www.w3.org/2000/09/xmldsig#">Pre-shared-key</KeyName></EncryptionKey><KeyPackage>`, 1)
	if _, err := pskc.Parse(strings.NewReader(enc)); err == nil || !strings.Contains(err.Error(), "no MACMethod") {
		t.Errorf("an encrypted container without a MAC: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rfc6030-figure6.pskc", "rfc6030-figure7.pskc", "pskc-utils-psk-aes256.pskc"} {
		b, err := os.ReadFile("../../testvectors/pskc/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(container(p("A1", "hotp", "", "6", "")))
	f.Add(container(p("A2", "totp", "<Suite>SHA512</Suite>", "8", "")))
	f.Fuzz(func(t *testing.T, doc string) {
		b, err := pskc.Parse(strings.NewReader(doc))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tok := range b.Tokens {
			v, mac := tok.Sealed()
			sealed := b.Protection != nil && len(v) >= 32 && len(v)%16 == 0 && len(mac) >= 20
			if tok.Serial == "" || seen[tok.Serial] || (tok.Digits != 6 && tok.Digits != 8) || (len(tok.Secret()) < 16 && !sealed) {
				t.Fatalf("accepted a bad token %+v", tok)
			}
			seen[tok.Serial] = true
		}
	})
}
