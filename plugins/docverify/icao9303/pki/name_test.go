package pki

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// atv is one attribute for nameDER: a type, a value's tag and contents.
type atv struct {
	oid asn1.ObjectIdentifier
	tag cbasn1.Tag
	val string
}

func ps(oid asn1.ObjectIdentifier, v string) atv  { return atv{oid, cbasn1.PrintableString, v} }
func u8(oid asn1.ObjectIdentifier, v string) atv  { return atv{oid, cbasn1.UTF8String, v} }
func bmp(oid asn1.ObjectIdentifier, v string) atv { return atv{oid, cbasn1.Tag(30), ucs2(v)} }

func ucs2(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

// nameDER encodes RDNs of attributes as a DER Name, in the order given.
func nameDER(t testing.TB, rdns ...[]atv) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, rdn := range rdns {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range rdn {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(a.oid)
						b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.val)) })
					})
				}
			})
		}
	})
	return b.BytesOrPanic()
}

func rdn(a ...atv) []atv { return a }

func TestEqualNames(t *testing.T) {
	// Malaysia: the SignerInfo's issuer has the certificate's RDNs in
	// another order.
	cert := nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia")))
	for _, tc := range []struct {
		name  string
		other []byte
		equal bool
	}{
		{"same bytes", cert, true},
		{"RDNs reversed", nameDER(t, rdn(u8(oidCN, "CSCA Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidO, "Government of Malaysia")), rdn(ps(oidC, "MY"))), true},
		{"one multi-valued RDN", nameDER(t, rdn(u8(oidO, "Government of Malaysia"), ps(oidC, "MY"), u8(oidCN, "CSCA Malaysia"), u8(oidOU, "Immigration"))), true},
		{"PrintableString case", nameDER(t, rdn(ps(oidC, "my")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia"))), true},
		{"UTF8String case", nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "GOVERNMENT OF MALAYSIA")), rdn(u8(oidOU, "immigration")), rdn(u8(oidCN, "csca malaysia"))), true},
		{"spaces", nameDER(t, rdn(ps(oidC, " MY ")), rdn(u8(oidO, "Government  of\tMalaysia")), rdn(u8(oidOU, "Immigration ")), rdn(u8(oidCN, "  CSCA Malaysia"))), true},
		{"PrintableString for UTF8String", nameDER(t, rdn(ps(oidC, "MY")), rdn(ps(oidO, "Government of Malaysia")), rdn(ps(oidOU, "Immigration")), rdn(ps(oidCN, "CSCA Malaysia"))), true},
		{"BMPString", nameDER(t, rdn(ps(oidC, "MY")), rdn(bmp(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia"))), true},
		{"another value", nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia 2"))), false},
		{"a space inside a word", nameDER(t, rdn(ps(oidC, "M Y")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia"))), false},
		{"another type", nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidO, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia"))), false},
		{"an attribute fewer", nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidCN, "CSCA Malaysia"))), false},
		{"an attribute more", nameDER(t, rdn(ps(oidC, "MY")), rdn(u8(oidO, "Government of Malaysia")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidOU, "Immigration")), rdn(u8(oidCN, "CSCA Malaysia"))), false},
		{"not a Name", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EqualNames(cert, tc.other); got != tc.equal {
				t.Fatalf("EqualNames = %v, want %v", got, tc.equal)
			}
			if got := EqualNames(tc.other, cert); got != tc.equal {
				t.Fatalf("EqualNames is not symmetric")
			}
		})
	}
}

func TestEqualNamesCounts(t *testing.T) {
	// Multisets: {OU=a, OU=a, OU=b} is not {OU=a, OU=b, OU=b}.
	x := nameDER(t, rdn(u8(oidOU, "a")), rdn(u8(oidOU, "a")), rdn(u8(oidOU, "b")))
	y := nameDER(t, rdn(u8(oidOU, "a")), rdn(u8(oidOU, "b")), rdn(u8(oidOU, "b")))
	if EqualNames(x, y) {
		t.Fatal("different counts compare equal")
	}
}

func TestEqualNamesRawValues(t *testing.T) {
	// Values Text does not decode compare byte for byte.
	octets := func(v string) []byte { return nameDER(t, rdn(atv{oidCN, cbasn1.OCTET_STRING, v})) }
	if !EqualNames(octets("AB"), octets("AB")) || EqualNames(octets("AB"), octets("ab")) {
		t.Fatal("OCTET STRING values must compare exactly")
	}
	// A PrintableString with a byte it may not hold is not decoded: it
	// equals only itself.
	bad := nameDER(t, rdn(ps(oidCN, "A*B")))
	if !EqualNames(bad, bad) || EqualNames(bad, nameDER(t, rdn(ps(oidCN, "a*b")))) || EqualNames(bad, nameDER(t, rdn(u8(oidCN, "A*B")))) {
		t.Fatal("an invalid PrintableString must compare exactly")
	}
	if !EqualNames(nameDER(t), nameDER(t)) {
		t.Fatal("empty Names differ")
	}
}

func TestParseName(t *testing.T) {
	in := nameDER(t, rdn(ps(oidC, "NZ")), rdn(u8(oidO, "Government of New Zealand"), u8(oidOU, "Passports")))
	n, err := ParseName(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 2 || len(n[0]) != 1 || len(n[1]) != 2 || !n[1][1].Type.Equal(oidOU) {
		t.Fatalf("ParseName = %+v", n)
	}
	if !bytes.Equal(n.Marshal(), in) {
		t.Fatal("Marshal is not ParseName's inverse")
	}
	if s, err := n[1][0].Text(); err != nil || s != "Government of New Zealand" {
		t.Fatalf("Text = %q, %v", s, err)
	}
	// It agrees with encoding/asn1's reading of the same Name.
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(in, &seq); err != nil || len(seq) != 2 || len(seq[1]) != 2 {
		t.Fatalf("encoding/asn1: %v", err)
	}
	for _, tc := range []struct {
		name          string
		der           []byte
		field, reason string
	}{
		{"not a SEQUENCE", []byte{0x31, 0x00}, "Name", "not a DER SEQUENCE"},
		{"trailing data", append(nameDER(t), 0), "Name", "1 bytes of trailing data"},
		{"an empty RDN", nameDER(t, rdn(ps(oidC, "NZ")), rdn()), "Name.rdn[1]", "an empty RDN"},
		{"an RDN not a SET", []byte{0x30, 0x02, 0x30, 0x00}, "Name.rdn[0]", "not a SET"},
		{"an attribute not a SEQUENCE", []byte{0x30, 0x04, 0x31, 0x02, 0x05, 0x00}, "Name.rdn[0][0]", "not an AttributeTypeAndValue"},
		{"no type", []byte{0x30, 0x06, 0x31, 0x04, 0x30, 0x02, 0x05, 0x00}, "Name.rdn[0][0].type", "not an OBJECT IDENTIFIER"},
		{"no value", []byte{0x30, 0x07, 0x31, 0x05, 0x30, 0x03, 0x06, 0x01, 0x2a}, "Name.rdn[0][0].value", "not a DER element"},
		{"data after the value", []byte{0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x01, 0x2a, 0x05, 0x00, 0x05, 0x00}, "Name.rdn[0][0]", "data after the value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseName(tc.der)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(fmt.Sprint(err), tc.field+": "+tc.reason) {
				t.Fatalf("ParseName: %v; want %s: %s", err, tc.field, tc.reason)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		tag  cbasn1.Tag
		val  string
		want string
		ok   bool
	}{
		{cbasn1.UTF8String, "Øster Ålesund", "Øster Ålesund", true},
		{cbasn1.UTF8String, "\xff", "", false},
		{cbasn1.PrintableString, "Sdu Identification bv", "Sdu Identification bv", true},
		{cbasn1.PrintableString, "a@b", "", false},
		{cbasn1.IA5String, "a@b", "a@b", true},
		{cbasn1.IA5String, "\x80", "", false},
		{cbasn1.Tag(26), "a b~", "a b~", true},
		{cbasn1.Tag(26), "a\tb", "", false},
		{cbasn1.Tag(18), "0123 45", "0123 45", true},
		{cbasn1.Tag(18), "12a", "", false},
		{cbasn1.T61String, "M\xfcnchen", "München", true},
		{cbasn1.Tag(30), ucs2("Zürich"), "Zürich", true},
		{cbasn1.Tag(30), "\x00", "", false},
		{cbasn1.Tag(30), "\xd8\x00", "", false},
		{cbasn1.Tag(28), "\x00\x00\x00A\x00\x01\xf6\x00", "A\U0001F600", true},
		{cbasn1.Tag(28), "\x00\x11\x00\x00", "", false},
		{cbasn1.Tag(28), "\x00\x00\x00", "", false},
		{cbasn1.OCTET_STRING, "x", "", false},
	} {
		n, err := ParseName(nameDER(t, rdn(atv{oidCN, tc.tag, tc.val})))
		if err != nil {
			t.Fatal(err)
		}
		got, err := n[0][0].Text()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Text of tag %d %q = %q, %v; want %q, ok %v", tc.tag, tc.val, got, err, tc.want, tc.ok)
		}
	}
}

func TestFoldString(t *testing.T) {
	for in, want := range map[string]string{
		"  Country  Signing\tCA ": "country signing ca",
		"ÅLESUND":                 "ålesund",
		"ǅ":                       "ǆ", // titlecase folds with its upper and lower case
		"K":                       "k", // KELVIN SIGN is in the orbit of k
		"":                        "",
		"   ":                     "",
	} {
		// foldString's output is the smallest rune of each orbit, often
		// the upper case; compare folded with folded.
		if got := foldString(in); got != foldString(want) {
			t.Errorf("foldString(%q) = %q, want %q", in, got, want)
		}
		if foldString(in) != foldString(strings.ToUpper(in)) {
			t.Errorf("foldString(%q) depends on case", in)
		}
	}
}

func TestHashOIDs(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if got, ok := HashForOID(OIDForHash(h)); !ok || got != h {
			t.Errorf("%v round trip gives %v", h, got)
		}
	}
	if OIDForHash(crypto.MD5) != nil {
		t.Error("MD5 has an OID")
	}
	if _, ok := HashForOID(asn1.ObjectIdentifier{1, 2, 3}); ok {
		t.Error("1.2.3 is a hash")
	}
}
