package pki

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
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

// ParseName parses the DER of a Name (an RDNSequence): a SEQUENCE of
// non-empty SETs of SEQUENCE { type OBJECT IDENTIFIER, value ANY }. An
// empty Name is accepted. The error names the RDN and attribute that is
// wrong.
func ParseName(der []byte) (Name, error) {
	s := cryptobyte.String(der)
	n, err := readName(&s)
	if err != nil {
		return nil, err
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: Name: %d bytes of trailing data", ErrMalformed, len(s))
	}
	return n, nil
}

func readName(s *cryptobyte.String) (Name, error) {
	bad := func(field, reason string) error { return fmt.Errorf("%w: %s: %s", ErrMalformed, field, reason) }
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, bad("Name", "not a DER SEQUENCE")
	}
	name := Name{}
	for r := 0; !seq.Empty(); r++ {
		field := fmt.Sprintf("Name.rdn[%d]", r)
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, bad(field, "not a SET")
		}
		if set.Empty() {
			return nil, bad(field, "an empty RDN")
		}
		var rdn RDN
		for i := 0; !set.Empty(); i++ {
			field := fmt.Sprintf("%s[%d]", field, i)
			var atv, value cryptobyte.String
			var a Attribute
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) {
				return nil, bad(field, "not an AttributeTypeAndValue SEQUENCE")
			}
			if !atv.ReadASN1ObjectIdentifier(&a.Type) {
				return nil, bad(field+".type", "not an OBJECT IDENTIFIER")
			}
			if !atv.ReadAnyASN1(&value, &a.Tag) {
				return nil, bad(field+".value", "not a DER element")
			}
			if !atv.Empty() {
				return nil, bad(field, "data after the value")
			}
			a.Value = bytes.Clone(value)
			rdn = append(rdn, a)
		}
		name = append(name, rdn)
	}
	return name, nil
}

// Marshal encodes n as DER, RDN by RDN and attribute by attribute in the
// order they are in: the inverse of ParseName.
func (n Name) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, rdn := range n {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range rdn {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(a.Type)
						b.AddASN1(a.Tag, func(b *cryptobyte.Builder) { b.AddBytes(a.Value) })
					})
				}
			})
		}
	})
	return b.BytesOrPanic()
}

// EqualNames reports whether the DER Names a and b are the same name by
// Name.Equal. A Name that does not parse equals nothing, itself included.
func EqualNames(a, b []byte) bool {
	na, err := ParseName(a)
	if err != nil {
		return false
	}
	nb, err := ParseName(b)
	if err != nil {
		return false
	}
	return na.Equal(nb)
}

// Equal reports whether n and m name the same entity, compared as
// multisets of attributes: the order of RDNs, the order of attributes
// inside a multi-valued RDN and how attributes are grouped into RDNs do
// not matter (Malaysia's SignerInfo lists its issuer's RDNs in another
// order than the certificate does), but each attribute must appear as
// often in one as in the other.
//
// Two attributes are equal when their types are the same OBJECT
// IDENTIFIER and their values are equal, which is, for a value of a
// string type Text decodes (whatever that type: a PrintableString equals
// a UTF8String of the same text, as RFC 5280 section 7.1 transcodes both
// to Unicode): equality of the decoded texts after the string preparation
// of RFC 4518's insignificant-space handling and case folding,
// approximated: every white-space rune counts as a space, leading and
// trailing spaces are dropped and runs of spaces count as one, and
// letters compare case-insensitively by Unicode simple case folding
// (strings.EqualFold's). There is no NFKC normalisation and no removal of
// ignorable characters. Any other value (another type, or a string
// invalid for its type) must be equal byte for byte, tag included.
func (n Name) Equal(m Name) bool {
	a, b := n.keys(), m.keys()
	return slices.Equal(a, b)
}

// keys is what Equal compares: one key per attribute, sorted.
func (n Name) keys() []string {
	var k []string
	for _, rdn := range n {
		for _, a := range rdn {
			k = append(k, a.key())
		}
	}
	slices.Sort(k)
	return k
}

func (a Attribute) key() string {
	if t, err := a.Text(); err == nil {
		return a.Type.String() + "\x00s" + foldString(t)
	}
	return fmt.Sprintf("%s\x00r%d:%s", a.Type, a.Tag, a.Value)
}

// foldString is the string preparation Equal applies: every white-space
// rune (unicode.IsSpace) becomes a space, leading and trailing spaces go,
// runs of spaces become one, and every rune becomes the smallest rune of
// its Unicode simple case-folding orbit (the folding strings.EqualFold
// uses), so that "GB", "gb" and "Gb" are one value.
func foldString(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimFunc(s, unicode.IsSpace) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(minFold(r))
	}
	return b.String()
}

func minFold(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}

// The string types of a DirectoryString and its relatives.
const (
	tagUTF8String      = cbasn1.UTF8String
	tagNumericString   = cbasn1.Tag(18)
	tagPrintableString = cbasn1.PrintableString
	tagTeletexString   = cbasn1.T61String
	tagIA5String       = cbasn1.IA5String
	tagVisibleString   = cbasn1.Tag(26)
	tagUniversalString = cbasn1.Tag(28)
	tagBMPString       = cbasn1.Tag(30)
)

var stringTypes = map[cbasn1.Tag]string{
	tagPrintableString: " PrintableString", tagIA5String: "n IA5String",
	tagVisibleString: " VisibleString", tagNumericString: " NumericString",
}

// errNotString is Text's answer for a value that is not a character
// string it can decode.
var errNotString = errors.New("pki: not a character string this package decodes")

// Text decodes a's value with DecodeString.
func (a Attribute) Text() (string, error) { return DecodeString(a.Tag, a.Value) }

// DecodeString decodes the contents v of a character string of type tag
// if it is a UTF8String, PrintableString, IA5String, VisibleString,
// NumericString, TeletexString (read as ISO 8859-1, as crypto/x509 does),
// BMPString (UCS-2) or UniversalString (UCS-4). It refuses other types,
// and strings whose bytes are not valid for their type.
func DecodeString(tag cbasn1.Tag, v []byte) (string, error) {
	switch tag {
	case tagUTF8String:
		if !utf8.Valid(v) {
			return "", errors.New("pki: invalid UTF-8 in a UTF8String")
		}
		return string(v), nil
	case tagPrintableString, tagIA5String, tagVisibleString, tagNumericString:
		for _, c := range v {
			var ok bool
			switch tag {
			case tagPrintableString:
				ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
					strings.IndexByte(" '()+,-./:=?", c) >= 0
			case tagIA5String:
				ok = c < utf8.RuneSelf
			case tagVisibleString:
				ok = ' ' <= c && c <= '~'
			default:
				ok = c == ' ' || '0' <= c && c <= '9'
			}
			if !ok {
				return "", fmt.Errorf("pki: byte 0x%02x is not allowed in a%s", c, stringTypes[tag])
			}
		}
		return string(v), nil
	case tagTeletexString:
		r := make([]rune, len(v))
		for i, c := range v {
			r[i] = rune(c)
		}
		return string(r), nil
	case tagBMPString:
		if len(v)%2 != 0 {
			return "", errors.New("pki: a BMPString of odd length")
		}
		u := make([]uint16, len(v)/2)
		for i := range u {
			u[i] = uint16(v[2*i])<<8 | uint16(v[2*i+1])
			if utf16.IsSurrogate(rune(u[i])) {
				return "", errors.New("pki: a surrogate in a BMPString")
			}
		}
		return string(utf16.Decode(u)), nil
	case tagUniversalString:
		if len(v)%4 != 0 {
			return "", errors.New("pki: a UniversalString whose length is not a multiple of 4")
		}
		r := make([]rune, len(v)/4)
		for i := range r {
			c := uint32(v[4*i])<<24 | uint32(v[4*i+1])<<16 | uint32(v[4*i+2])<<8 | uint32(v[4*i+3])
			if c > unicode.MaxRune || utf16.IsSurrogate(rune(c)) {
				return "", errors.New("pki: an invalid code point in a UniversalString")
			}
			r[i] = rune(c)
		}
		return string(r), nil
	}
	return "", errNotString
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
			v, err := a.Text()
			if err == nil {
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
