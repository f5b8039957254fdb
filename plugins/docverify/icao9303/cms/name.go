package cms

import (
	"encoding/asn1"
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

// AttributeTypeAndValue is one attribute of an X.501 Name.
type AttributeTypeAndValue struct {
	// RDN is the index, from 0 in the order sent, of the
	// RelativeDistinguishedName the attribute is in.
	RDN  int
	Type asn1.ObjectIdentifier
	// Value is the whole DER element of the value (tag, length, contents).
	Value []byte
}

// Name is an X.501 Name's attributes, RDN by RDN in the order sent.
type Name []AttributeTypeAndValue

// ParseName parses the DER of an X.501 Name (an RDNSequence): a SEQUENCE
// of non-empty SETs of SEQUENCE { type OBJECT IDENTIFIER, value ANY }.
// An empty Name is accepted.
func ParseName(der []byte) (Name, error) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, perr("Name", "not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, perr("Name", "%d bytes of trailing data", len(in))
	}
	n := Name{}
	for rdn := 0; !seq.Empty(); rdn++ {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, perr(fmt.Sprintf("Name.rdn[%d]", rdn), "not a SET")
		}
		if set.Empty() {
			return nil, perr(fmt.Sprintf("Name.rdn[%d]", rdn), "an empty RDN")
		}
		for i := 0; !set.Empty(); i++ {
			f := fmt.Sprintf("Name.rdn[%d][%d]", rdn, i)
			var atv, value cryptobyte.String
			a := AttributeTypeAndValue{RDN: rdn}
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) {
				return nil, perr(f, "not an AttributeTypeAndValue SEQUENCE")
			}
			if !atv.ReadASN1ObjectIdentifier(&a.Type) {
				return nil, perr(f+".type", "not an OBJECT IDENTIFIER")
			}
			if !atv.ReadAnyASN1Element(&value, nil) {
				return nil, perr(f+".value", "not a DER element")
			}
			if !atv.Empty() {
				return nil, perr(f, "data after the value")
			}
			a.Value = slices.Clone(value)
			n = append(n, a)
		}
	}
	return n, nil
}

// errNotString is Text's answer for a value that is not a character
// string it can decode.
var errNotString = errors.New("cms: not a character string this package decodes")

// Text decodes a's value if it is a UTF8String, PrintableString,
// IA5String, VisibleString, NumericString, TeletexString (read as
// ISO 8859-1, as crypto/x509 does), BMPString (UCS-2) or UniversalString
// (UCS-4). It refuses other types, and strings whose bytes are not valid
// for their type.
func (a AttributeTypeAndValue) Text() (string, error) {
	s := cryptobyte.String(a.Value)
	var tag cbasn1.Tag
	var v cryptobyte.String
	if !s.ReadAnyASN1(&v, &tag) || !s.Empty() {
		return "", errors.New("cms: the attribute value is not one DER element")
	}
	switch tag {
	case cbasn1.UTF8String:
		if !utf8.Valid(v) {
			return "", errors.New("cms: invalid UTF-8 in a UTF8String")
		}
		return string(v), nil
	case cbasn1.PrintableString:
		for _, c := range v {
			if !isPrintable(c) {
				return "", fmt.Errorf("cms: byte 0x%02x in a PrintableString", c)
			}
		}
		return string(v), nil
	case cbasn1.IA5String, cbasn1.Tag(26), cbasn1.Tag(18): // IA5String, VisibleString, NumericString
		for _, c := range v {
			var ok bool
			switch tag {
			case cbasn1.IA5String:
				ok = c < utf8.RuneSelf
			case cbasn1.Tag(26):
				ok = ' ' <= c && c <= '~'
			default:
				ok = c == ' ' || '0' <= c && c <= '9'
			}
			if !ok {
				return "", fmt.Errorf("cms: byte 0x%02x in a string of tag %d", c, uint8(tag))
			}
		}
		return string(v), nil
	case cbasn1.T61String:
		r := make([]rune, len(v))
		for i, c := range v {
			r[i] = rune(c)
		}
		return string(r), nil
	case cbasn1.Tag(30): // BMPString
		if len(v)%2 != 0 {
			return "", errors.New("cms: a BMPString of odd length")
		}
		u := make([]uint16, len(v)/2)
		for i := range u {
			u[i] = uint16(v[2*i])<<8 | uint16(v[2*i+1])
			if utf16.IsSurrogate(rune(u[i])) {
				return "", errors.New("cms: a surrogate in a BMPString")
			}
		}
		return string(utf16.Decode(u)), nil
	case cbasn1.Tag(28): // UniversalString
		if len(v)%4 != 0 {
			return "", errors.New("cms: a UniversalString whose length is not a multiple of 4")
		}
		r := make([]rune, len(v)/4)
		for i := range r {
			c := uint32(v[4*i])<<24 | uint32(v[4*i+1])<<16 | uint32(v[4*i+2])<<8 | uint32(v[4*i+3])
			if c > unicode.MaxRune || utf16.IsSurrogate(rune(c)) {
				return "", errors.New("cms: an invalid code point in a UniversalString")
			}
			r[i] = rune(c)
		}
		return string(r), nil
	}
	return "", errNotString
}

func isPrintable(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte(" '()+,-./:=?", c) >= 0
}

// key is what EqualNames compares an attribute by.
func (a AttributeTypeAndValue) key() string {
	if t, err := a.Text(); err == nil {
		return a.Type.String() + "\x00s" + foldString(t)
	}
	return a.Type.String() + "\x00r" + string(a.Value)
}

// foldString is the string preparation EqualNames applies: every
// white-space rune (unicode.IsSpace) becomes a space, leading and trailing
// spaces go, runs of spaces become one, and every rune becomes the
// smallest rune of its Unicode simple case-folding orbit (the folding
// strings.EqualFold uses), so that "GB", "gb" and "Gb" are one value.
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

// Equal reports whether n and m name the same entity by the rules of
// EqualNames.
func (n Name) Equal(m Name) bool {
	if len(n) != len(m) {
		return false
	}
	keys := func(n Name) []string {
		k := make([]string, len(n))
		for i, a := range n {
			k[i] = a.key()
		}
		slices.Sort(k)
		return k
	}
	return slices.Equal(keys(n), keys(m))
}

// EqualNames reports whether the DER Names a and b are the same name
// compared as multisets of attributes: the order of RDNs, the order of
// attributes inside a multi-valued RDN and how attributes are grouped into
// RDNs do not matter (Malaysia's SignerInfo lists its issuer's RDNs in
// another order than the certificate does), but each attribute must
// appear as often in one as in the other.
//
// Two attributes are equal when their types are the same OBJECT IDENTIFIER
// and their values are equal, which is, for a value of a string type Text
// decodes (whatever that type: a PrintableString equals a UTF8String of
// the same text, as RFC 5280 section 7.1 transcodes both to Unicode):
// equality of the decoded texts after the string preparation of
// RFC 4518's insignificant-space handling and case folding, approximated:
// every white-space rune counts as a space, leading and trailing spaces
// are dropped and runs of spaces count as one, and letters compare
// case-insensitively by Unicode simple case folding (strings.EqualFold's).
// There is no NFKC normalisation and no removal of ignorable characters.
// Any other value (another type, or a string invalid for its type) must be
// equal byte for byte, tag and length included.
//
// A Name that does not parse equals nothing, itself included.
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
