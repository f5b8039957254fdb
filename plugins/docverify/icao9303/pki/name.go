package pki

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Name is an X.501 Name: its RDNs in the order of the encoding (the
// most significant first), each a set of attributes.
type Name []RDN

// RDN is a RelativeDistinguishedName.
type RDN []Attribute

// Attribute is an AttributeTypeAndValue: the type and the value's tag
// and contents.
type Attribute struct {
	Type  asn1.ObjectIdentifier
	Tag   cbasn1.Tag
	Value []byte
}

// ParseName parses the DER of a Name (RDNSequence).
func ParseName(der []byte) (Name, error) {
	s := cryptobyte.String(der)
	n, ok := readName(&s)
	if !ok || !s.Empty() {
		return nil, fmt.Errorf("%w: Name", ErrMalformed)
	}
	return n, nil
}

func readName(s *cryptobyte.String) (Name, bool) {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, false
	}
	name := Name{}
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) || set.Empty() {
			return nil, false
		}
		var rdn RDN
		for !set.Empty() {
			var atv cryptobyte.String
			var a Attribute
			var value cryptobyte.String
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) ||
				!atv.ReadASN1ObjectIdentifier(&a.Type) ||
				!atv.ReadAnyASN1(&value, &a.Tag) || !atv.Empty() {
				return nil, false
			}
			a.Value = bytes.Clone(value)
			rdn = append(rdn, a)
		}
		name = append(name, rdn)
	}
	return name, true
}

// Equal reports whether n and m name the same entity, compared as
// multisets of attributes, so that the same attributes in another RDN
// order match (a Malaysian SignerInfo names its DSC's issuer so).
// String values compare after decoding, case-folded, with leading,
// trailing and repeated white space ignored (RFC 5280, 7.1, roughly);
// other values compare by tag and bytes.
func (n Name) Equal(m Name) bool {
	a, b := n.normalized(), m.normalized()
	if len(a) != len(b) {
		return false
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func (n Name) normalized() []string {
	var out []string
	for _, rdn := range n {
		for _, a := range rdn {
			v, ok := a.stringValue()
			if ok {
				v = "s:" + strings.ToLower(strings.Join(strings.Fields(v), " "))
			} else {
				v = fmt.Sprintf("b:%d:%x", a.Tag, a.Value)
			}
			out = append(out, a.Type.String()+"="+v)
		}
	}
	return out
}

// The string types of a DirectoryString and its relatives.
const (
	tagUTF8String      = cbasn1.UTF8String
	tagPrintableString = cbasn1.PrintableString
	tagTeletexString   = cbasn1.T61String
	tagIA5String       = cbasn1.IA5String
	tagUniversalString = cbasn1.Tag(28)
	tagBMPString       = cbasn1.Tag(30)
)

// stringValue decodes a string-typed value.
func (a Attribute) stringValue() (string, bool) {
	switch a.Tag {
	case tagUTF8String:
		return string(a.Value), utf8.Valid(a.Value)
	case tagPrintableString, tagIA5String:
		for _, c := range a.Value {
			if c >= 0x80 {
				return "", false
			}
		}
		return string(a.Value), true
	case tagTeletexString: // read as Latin-1, as is usual
		r := make([]rune, len(a.Value))
		for i, c := range a.Value {
			r[i] = rune(c)
		}
		return string(r), true
	case tagBMPString:
		if len(a.Value)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(a.Value)/2)
		for i := range u {
			u[i] = uint16(a.Value[2*i])<<8 | uint16(a.Value[2*i+1])
		}
		return string(utf16.Decode(u)), true
	case tagUniversalString:
		if len(a.Value)%4 != 0 {
			return "", false
		}
		var sb strings.Builder
		for i := 0; i < len(a.Value); i += 4 {
			r := rune(a.Value[i])<<24 | rune(a.Value[i+1])<<16 | rune(a.Value[i+2])<<8 | rune(a.Value[i+3])
			if !utf8.ValidRune(r) {
				return "", false
			}
			sb.WriteRune(r)
		}
		return sb.String(), true
	}
	return "", false
}

var attributeNames = map[string]string{
	"2.5.4.3":              "CN",
	"2.5.4.4":              "SN",
	"2.5.4.5":              "SERIALNUMBER",
	"2.5.4.6":              "C",
	"2.5.4.7":              "L",
	"2.5.4.8":              "ST",
	"2.5.4.10":             "O",
	"2.5.4.11":             "OU",
	"2.5.4.42":             "GN",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// String renders n as RFC 4514 does: the least significant RDN first.
func (n Name) String() string {
	var parts []string
	for i := len(n) - 1; i >= 0; i-- {
		var avas []string
		for _, a := range n[i] {
			typ, ok := attributeNames[a.Type.String()]
			if !ok {
				typ = a.Type.String()
			}
			v, ok := a.stringValue()
			if ok {
				v = escapeDN(v)
			} else {
				v = "#" + hex.EncodeToString(a.Value)
			}
			avas = append(avas, typ+"="+v)
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ",")
}

func escapeDN(v string) string {
	var sb strings.Builder
	for i, r := range v {
		switch {
		case strings.ContainsRune(`,+"\<>;=`, r),
			i == 0 && (r == ' ' || r == '#'),
			i == len(v)-1 && r == ' ':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, "\\%02x", r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
