package ber

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// h decodes hex written with spaces between bytes, as the tests write BER.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestNormalize(t *testing.T) {
	long := bytes.Repeat([]byte{0xab}, 200)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"DER stays", "30 06 02 01 05 04 01 aa", "30 06 02 01 05 04 01 aa"},
		{"indefinite SEQUENCE", "30 80 02 01 05 00 00", "30 03 02 01 05"},
		{"nested indefinite", "30 80 31 80 02 01 01 00 00 a0 80 05 00 00 00 00 00", "30 09 31 03 02 01 01 a0 02 05 00"},
		{"empty indefinite", "30 80 00 00", "30 00"},
		{"length 81 for a short length", "04 81 03 aa bb cc", "04 03 aa bb cc"},
		{"length with leading zeros", "04 84 00 00 00 02 aa bb", "04 02 aa bb"},
		{"non-minimal inside definite", "30 84 00 00 00 05 04 81 02 aa bb", "30 04 04 02 aa bb"},
		{"constructed OCTET STRING, indefinite", "24 80 04 02 01 02 04 01 03 00 00", "04 03 01 02 03"},
		{"constructed OCTET STRING, definite", "24 07 04 02 01 02 04 01 03", "04 03 01 02 03"},
		{"constructed OCTET STRING, nested", "24 80 24 80 04 01 01 00 00 04 00 24 03 04 01 02 00 00", "04 02 01 02"},
		{"empty constructed OCTET STRING", "24 00", "04 00"},
		{"eContent as in CMS", "a0 80 24 80 04 02 01 02 00 00 00 00", "a0 04 04 02 01 02"},
		{"constructed BIT STRING", "23 80 03 02 00 aa 03 02 04 b0 00 00", "03 03 04 aa b0"},
		{"empty constructed BIT STRING", "23 00", "03 01 00"},
		{"BIT STRING segment holding only its unused-bits octet", "23 06 03 01 00 03 01 00", "03 01 00"},
		{"constructed PrintableString of OCTET STRING segments", "33 80 04 01 4e 04 01 5a 00 00", "13 02 4e 5a"},
		{"constructed UTCTime", "37 08 04 02 39 39 04 02 30 31", "17 04 39 39 30 31"},
		{"high tag number kept", "5f 1f 02 aa bb", "5f 1f 02 aa bb"},
		{"constructed high tag, indefinite", "7f 61 80 5f 1f 01 aa 00 00", "7f 61 04 5f 1f 01 aa"},
		{"three-octet tag number", "bf 87 68 80 05 00 00 00", "bf 87 68 02 05 00"},
		{"context [0] constructed stays constructed", "a0 80 04 01 aa 00 00", "a0 03 04 01 aa"},
		{"application [3] constructed string kept", "63 80 04 01 aa 00 00", "63 03 04 01 aa"},
		{"long contents, indefinite", "30 80 04 81 c8 " + hex.EncodeToString(long) + " 00 00", "30 81 cb 04 81 c8 " + hex.EncodeToString(long)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(h(t, tc.in))
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if want := h(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("Normalize = % x\nwant        % x", got, want)
			}
			checkDER(t, got)
		})
	}
}

// checkDER checks that b is one element encoding/asn1 accepts, and that
// Normalize leaves it as it is.
func checkDER(t testing.TB, b []byte) {
	t.Helper()
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(b, &rv)
	if err != nil {
		t.Fatalf("encoding/asn1 refuses the output % x: %v", b, err)
	}
	if len(rest) != 0 {
		t.Fatalf("encoding/asn1 leaves %d bytes of the output", len(rest))
	}
	again, err := Normalize(b)
	if err != nil {
		t.Fatalf("Normalize refuses its own output % x: %v", b, err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("Normalize changes its own output\n% x\n% x", b, again)
	}
}

func TestNormalizeLengthForms(t *testing.T) {
	// Contents of every size class of the DER length: short, 1, 2 and 3
	// octets, each sent inside an indefinite SEQUENCE.
	for _, n := range []int{0, 127, 128, 255, 256, 65535, 65536, 1 << 20} {
		content := bytes.Repeat([]byte{0x5a}, n)
		var in []byte
		in = append(in, 0x30, 0x80, 0x04, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		in = append(in, content...)
		in = append(in, 0, 0)
		got, err := Normalize(in)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		inner, err := asn1.Marshal(content)
		if err != nil {
			t.Fatal(err)
		}
		want, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: got header % x, want % x", n, got[:8], want[:8])
		}
		checkDER(t, got)
	}
}

func TestNormalizeKeepsDERCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "CSCA Test", Country: []string{"NZ"}},
		NotBefore:    time.Unix(1e9, 0),
		NotAfter:     time.Unix(2e9, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Normalize(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, der) {
		t.Fatal("Normalize changed a DER certificate")
	}
	// The same certificate inside an indefinite SET comes out as a DER
	// SET around the unchanged certificate.
	in := append(append([]byte{0x31, 0x80}, der...), 0, 0)
	got, err = Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: der})
	if !bytes.Equal(got, want) {
		t.Fatal("the certificate changed inside a SET")
	}
}

func TestNormalizeKeepsSetOrder(t *testing.T) {
	// DER would sort these SET OF members (02 01 01 before 02 01 02);
	// Normalize must not.
	in := h(t, "31 80 02 01 02 02 01 01 00 00")
	got, err := Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := h(t, "31 06 02 01 02 02 01 01"); !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestNormalizeErrors(t *testing.T) {
	deep := strings.Repeat("30 80 ", MaxDepth+1) + strings.Repeat("00 00 ", MaxDepth+1)
	deepOK := strings.Repeat("30 80 ", MaxDepth) + strings.Repeat("00 00 ", MaxDepth)
	if _, err := Normalize(h(t, deepOK)); err != nil {
		t.Fatalf("depth %d refused: %v", MaxDepth, err)
	}
	deepSegments := "24 80 " + strings.Repeat("24 80 ", MaxDepth) + strings.Repeat("00 00 ", MaxDepth+1)
	for _, tc := range []struct {
		name, in string
		off      int
		reason   string
	}{
		{"empty", "", 0, "empty input"},
		{"identifier only", "30", 0, "without its length octets"},
		{"truncated contents", "04 05 aa bb", 0, "has length 5 but only 2 bytes are left"},
		{"truncated length octets", "04 82 01", 0, "truncated in the length octets"},
		{"child overruns its parent", "30 03 04 05 aa bb cc dd ee", 2, "has length 5 but only 1 bytes are left"},
		{"trailing data", "05 00 05 00", 2, "2 bytes of trailing data"},
		{"trailing data after indefinite", "30 80 00 00 00", 4, "1 bytes of trailing data"},
		{"missing end-of-contents", "30 80 02 01 05", 0, "no end-of-contents octets"},
		{"half end-of-contents", "30 80 02 01 05 00", 5, "truncated in end-of-contents"},
		{"end-of-contents with a length", "30 80 00 01 aa 00 00", 2, "non-zero length octet"},
		{"end-of-contents in a definite element", "30 02 00 00", 2, "end-of-contents octets where an element was expected"},
		{"end-of-contents at top level", "00 00", 0, "end-of-contents octets where an element was expected"},
		{"indefinite primitive", "04 80 aa 00 00", 0, "indefinite length on primitive OCTET STRING"},
		{"reserved length octet", "04 ff", 1, "reserved length octet 0xff"},
		{"length overflow", "04 88 ff ff ff ff ff ff ff ff", 1, "exceeds"},
		{"length beyond input", "04 83 01 00 00", 0, "has length 65536 but only 0 bytes are left"},
		{"length beyond the size limit", "04 84 7f ff ff ff", 1, "exceeds 16777216"},
		{"high tag for a low number", "1f 05 00", 0, "tag number 5 in the high-tag-number form"},
		{"high tag with leading 0x80", "5f 80 3f 00", 0, "leading 0x80"},
		{"tag number too large", "5f 88 80 80 80 00 00", 0, "larger than 2^31-1"},
		{"truncated high tag", "5f 81", 0, "truncated in a high-tag-number identifier"},
		{"constructed INTEGER", "22 03 02 01 01", 0, "constructed INTEGER: this type is always primitive"},
		{"constructed OID", "26 80 00 00", 0, "always primitive"},
		{"primitive SEQUENCE", "10 00", 0, "primitive SEQUENCE: this type is always constructed"},
		{"too deep", deep, 2 * MaxDepth, "nesting deeper than 64"},
		{"segments too deep", deepSegments, 2 * MaxDepth, "nesting deeper than 64"},
		{"OCTET STRING segment of the wrong type", "24 80 02 01 01 00 00", 2, "a segment of a constructed OCTET STRING is a primitive INTEGER"},
		{"PrintableString segment not an OCTET STRING", "33 80 13 01 4e 00 00", 2, "X.690 wants OCTET STRING segments"},
		{"BIT STRING segment with unused bits not last", "23 80 03 02 04 a0 03 02 00 aa 00 00", 6, "follows one with 4 unused bits"},
		{"BIT STRING segment empty", "23 02 03 00", 2, "without its unused-bits octet"},
		{"BIT STRING segment with 8 unused bits", "23 03 03 01 08", 2, "8 unused bits"},
		{"empty BIT STRING segment with unused bits", "23 03 03 01 03", 2, "an empty BIT STRING segment with 3 unused bits"},
		{"segment overruns the string", "24 03 04 05 aa", 2, "has length 5 but only 1 bytes are left"},
		{"segments missing end-of-contents", "24 80 04 01 aa", 0, "no end-of-contents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Normalize(h(t, tc.in))
			if err == nil {
				t.Fatalf("Normalize accepted it: % x", out)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Offset != tc.off || !strings.Contains(se.Reason, tc.reason) {
				t.Fatalf("error %q; want offset %d and %q", err, tc.off, tc.reason)
			}
		})
	}
}

func TestNormalizeTooLarge(t *testing.T) {
	_, err := Normalize(make([]byte, MaxSize+1))
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("got %v", err)
	}
}

func TestUnwrapSOD(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"DER", "77 05 30 03 02 01 05", "30 03 02 01 05"},
		{"non-minimal wrapper length", "77 82 00 05 30 03 02 01 05", "30 03 02 01 05"},
		{"indefinite wrapper", "77 80 30 03 02 01 05 00 00", "30 03 02 01 05"},
		{"BER inside (New Zealand)", "77 07 30 80 02 01 05 00 00", "30 80 02 01 05 00 00"},
		{"indefinite inside indefinite", "77 80 30 80 02 01 05 00 00 00 00", "30 80 02 01 05 00 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnwrapSOD(h(t, tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if want := h(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
		})
	}
	for _, tc := range []struct {
		name, in string
		off      int
		reason   string
	}{
		{"empty", "", 0, "empty input"},
		{"no wrapper", "30 03 02 01 05", 0, "starts with constructed SEQUENCE"},
		{"primitive 0x57", "57 03 02 01 05", 0, "want the constructed [APPLICATION 23]"},
		{"trailing data", "77 05 30 03 02 01 05 ff", 7, "1 bytes of trailing data"},
		{"trailing after indefinite", "77 80 30 03 02 01 05 00 00 00", 9, "1 bytes of trailing data"},
		{"two elements", "77 07 30 03 02 01 05 05 00", 7, "more than one element"},
		{"two elements, indefinite", "77 80 05 00 05 00 00 00", 4, "more than one element"},
		{"empty wrapper", "77 00", 2, "empty"},
		{"empty indefinite wrapper", "77 80 00 00", 2, "empty"},
		{"truncated", "77 06 30 03 02 01 05", 0, "has length 6 but only 5 bytes are left"},
		{"bad BER inside", "77 04 30 02 00 00", 4, "end-of-contents octets where"},
		{"no end-of-contents", "77 80 30 03 02 01 05", 0, "no end-of-contents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnwrapSOD(h(t, tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if se.Offset != tc.off || !strings.Contains(se.Reason, tc.reason) {
				t.Fatalf("error %q; want offset %d and %q", err, tc.off, tc.reason)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"30 80 02 01 05 00 00",
		"30 80 31 80 02 01 01 00 00 a0 80 05 00 00 00 00 00",
		"24 80 24 80 04 01 01 00 00 04 00 24 03 04 01 02 00 00",
		"23 80 03 02 00 aa 03 02 04 b0 00 00",
		"33 80 04 01 4e 04 01 5a 00 00",
		"7f 61 80 5f 1f 01 aa 00 00",
		"bf 87 68 80 05 00 00 00",
		"04 84 00 00 00 02 aa bb",
		"77 80 30 80 02 01 05 00 00 00 00",
		"30 84 00 00 00 05 04 81 02 aa bb",
	} {
		f.Add(h(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Normalize(in)
		if inner, uerr := UnwrapSOD(in); uerr == nil {
			if _, err := Normalize(inner); err != nil {
				t.Fatalf("UnwrapSOD accepted what Normalize refuses inside: %v", err)
			}
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > len(in) {
				t.Fatalf("offset %d outside the input of %d bytes", se.Offset, len(in))
			}
			return
		}
		checkDER(t, out)
	})
}
