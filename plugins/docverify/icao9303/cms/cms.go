// Package cms parses the structures of ICAO 9303 passive authentication:
// the CMS SignedData (RFC 5652) of an EF.SOD or a CSCA master list, the
// LDSSecurityObject it signs (ICAO 9303 part 10), the CscaMasterList
// (part 12), and X.501 Names, which it compares as sets of attributes.
//
// It checks structure only: no signature, digest or certificate is
// verified here. The parsers take DER (run ber.Normalize on what a chip
// sends first; ParseSOD and ParseSignedMasterList do) and refuse trailing
// data at every level. What they return does not alias their input.
// SignedData, LDSSecurityObject and MasterList each have a Marshal that
// gives back, for a parsed value, the bytes it was parsed from; tests use
// them to build their own documents.
package cms

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// Object identifiers of the structures this package reads.
var (
	OIDData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDContentType       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDMessageDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDLDSSecurityObject = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
	OIDCscaMasterList    = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 2}
)

// ParseError is the error of every parser in this package: Field names
// the part of the structure that is wrong, as a path
// ("SignedData.signerInfos[0].signedAttrs[1]"), and Reason what is wrong
// with it.
type ParseError struct {
	Field  string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("cms: %s: %s", e.Field, e.Reason)
}

func perr(field, format string, args ...any) error {
	return &ParseError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Attribute is a CMS attribute: its type and the DER element of each
// value, in the order sent.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// SignedData is a CMS SignedData (RFC 5652 section 5) as passports and
// master lists use it. A nil slice is a field that was absent; an empty
// non-nil one was present and empty.
type SignedData struct {
	Version          int
	DigestAlgorithms []pki.AlgorithmIdentifier
	// EContentType is encapContentInfo's eContentType: 2.23.136.1.1.1 for
	// an EF.SOD, 2.23.136.1.1.2 for a CSCA master list.
	EContentType asn1.ObjectIdentifier
	// EContent is the contents of the eContent OCTET STRING, the bytes
	// the messageDigest attribute is computed over; nil when the content
	// is detached.
	EContent []byte
	// Certificates holds the DER of each certificate of the
	// [0] IMPLICIT CertificateSet, in the order sent. Only X.509
	// certificates are accepted there.
	Certificates [][]byte
	// CRLs holds the DER of each RevocationInfoChoice of the
	// [1] IMPLICIT set, as sent.
	CRLs        [][]byte
	SignerInfos []SignerInfo
}

// SignerInfo is one signer of a SignedData. Its sid is either an
// issuerAndSerialNumber (Issuer and SerialNumber set) or a
// subjectKeyIdentifier (SubjectKeyIdentifier set).
type SignerInfo struct {
	// Version is as sent (1 goes with issuerAndSerialNumber, 3 with
	// subjectKeyIdentifier; not enforced).
	Version int
	// Issuer is the DER of the issuer Name; compare it with a
	// certificate's issuer with EqualNames, not bytes.Equal.
	Issuer               []byte
	SerialNumber         *big.Int
	SubjectKeyIdentifier []byte
	DigestAlgorithm      pki.AlgorithmIdentifier
	// RawSignedAttrs is the signedAttrs element as sent, with its
	// [0] IMPLICIT tag (0xA0); nil when there are none.
	RawSignedAttrs []byte
	// SignedAttrs are the signed attributes in the order sent.
	SignedAttrs []Attribute
	// ContentType and MessageDigest are the values of the contentType
	// and messageDigest signed attributes. RFC 5652 requires both when
	// there are signed attributes, and so does the parser; the verifier
	// must still check ContentType against EContentType and MessageDigest
	// against the digest of EContent.
	ContentType        asn1.ObjectIdentifier
	MessageDigest      []byte
	SignatureAlgorithm pki.AlgorithmIdentifier
	Signature          []byte
	// RawUnsignedAttrs is the unsignedAttrs element as sent, with its
	// [1] IMPLICIT tag (0xA1); nil when there are none.
	RawUnsignedAttrs []byte
}

// SignedAttrsToVerify returns the bytes the signature is computed over
// when there are signed attributes: RFC 5652 section 5.4 takes the DER of
// the SignedAttrs with the universal SET OF tag (0x31), not the [0]
// IMPLICIT tag they are sent with; contents and length are unchanged. It
// returns nil when there are no signed attributes, in which case the
// signature is over EContent itself.
func (si *SignerInfo) SignedAttrsToVerify() []byte {
	if len(si.RawSignedAttrs) == 0 {
		return nil
	}
	b := bytes.Clone(si.RawSignedAttrs)
	b[0] = byte(cbasn1.SET)
	return b
}

var (
	tagCtx0       = cbasn1.Tag(0).ContextSpecific()
	tagCtx0Constr = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1Constr = cbasn1.Tag(1).ContextSpecific().Constructed()
)

// ParseSignedData parses a CMS ContentInfo whose content is a SignedData,
// the form of an unwrapped EF.SOD and of a master list file.
func ParseSignedData(der []byte) (*SignedData, error) {
	in := cryptobyte.String(bytes.Clone(der))
	var ci, content, sdSeq cryptobyte.String
	var ct asn1.ObjectIdentifier
	if len(in) >= 2 && in[0] == 0x30 && in[1] == 0x80 {
		return nil, perr("ContentInfo", "indefinite length (BER); run ber.Normalize first")
	}
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, perr("ContentInfo", "not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, perr("ContentInfo", "%d bytes of trailing data", len(in))
	}
	if !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, perr("ContentInfo.contentType", "not an OBJECT IDENTIFIER")
	}
	if !ct.Equal(OIDSignedData) {
		return nil, perr("ContentInfo.contentType", "%v, want signedData (%v)", ct, OIDSignedData)
	}
	if !ci.ReadASN1(&content, tagCtx0Constr) {
		return nil, perr("ContentInfo.content", "not a DER [0] EXPLICIT element")
	}
	if !ci.Empty() {
		return nil, perr("ContentInfo", "data after the content")
	}
	if !content.ReadASN1(&sdSeq, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, perr("SignedData", "not a single DER SEQUENCE")
	}
	sd := &SignedData{}
	s := sdSeq
	if !s.ReadASN1Integer(&sd.Version) {
		return nil, perr("SignedData.version", "not an INTEGER that fits an int")
	}

	var algs cryptobyte.String
	if !s.ReadASN1(&algs, cbasn1.SET) {
		return nil, perr("SignedData.digestAlgorithms", "not a SET")
	}
	sd.DigestAlgorithms = []pki.AlgorithmIdentifier{}
	for i := 0; !algs.Empty(); i++ {
		a, err := readAlgorithm(&algs, fmt.Sprintf("SignedData.digestAlgorithms[%d]", i))
		if err != nil {
			return nil, err
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, a)
	}

	if err := sd.readEncapContentInfo(&s); err != nil {
		return nil, err
	}

	var set cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&set, &present, tagCtx0Constr) {
		return nil, perr("SignedData.certificates", "not a DER [0] IMPLICIT SET")
	}
	if present {
		sd.Certificates = [][]byte{}
		for i := 0; !set.Empty(); i++ {
			var cert cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadAnyASN1Element(&cert, &tag) {
				return nil, perr(fmt.Sprintf("SignedData.certificates[%d]", i), "not a DER element")
			}
			if tag != cbasn1.SEQUENCE {
				return nil, perr(fmt.Sprintf("SignedData.certificates[%d]", i),
					"a CertificateChoices with tag 0x%02x; only X.509 certificates (SEQUENCE) are supported", uint8(tag))
			}
			sd.Certificates = append(sd.Certificates, cert)
		}
	}
	if !s.ReadOptionalASN1(&set, &present, tagCtx1Constr) {
		return nil, perr("SignedData.crls", "not a DER [1] IMPLICIT SET")
	}
	if present {
		sd.CRLs = [][]byte{}
		for i := 0; !set.Empty(); i++ {
			var crl cryptobyte.String
			if !set.ReadAnyASN1Element(&crl, nil) {
				return nil, perr(fmt.Sprintf("SignedData.crls[%d]", i), "not a DER element")
			}
			sd.CRLs = append(sd.CRLs, crl)
		}
	}

	var sis cryptobyte.String
	if !s.ReadASN1(&sis, cbasn1.SET) {
		return nil, perr("SignedData.signerInfos", "not a SET")
	}
	if !s.Empty() {
		return nil, perr("SignedData", "data after signerInfos")
	}
	sd.SignerInfos = []SignerInfo{}
	for i := 0; !sis.Empty(); i++ {
		si, err := readSignerInfo(&sis, fmt.Sprintf("SignedData.signerInfos[%d]", i))
		if err != nil {
			return nil, err
		}
		sd.SignerInfos = append(sd.SignerInfos, *si)
	}
	return sd, nil
}

func (sd *SignedData) readEncapContentInfo(s *cryptobyte.String) error {
	const field = "SignedData.encapContentInfo"
	var eci cryptobyte.String
	if !s.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return perr(field, "not a SEQUENCE")
	}
	if !eci.ReadASN1ObjectIdentifier(&sd.EContentType) {
		return perr(field+".eContentType", "not an OBJECT IDENTIFIER")
	}
	if eci.Empty() {
		return nil
	}
	var ec, octets cryptobyte.String
	if !eci.ReadASN1(&ec, tagCtx0Constr) {
		return perr(field+".eContent", "not a DER [0] EXPLICIT element")
	}
	if !eci.Empty() {
		return perr(field, "data after eContent")
	}
	if ec.PeekASN1Tag(cbasn1.OCTET_STRING.Constructed()) {
		return perr(field+".eContent", "a constructed OCTET STRING (BER); run ber.Normalize first")
	}
	if !ec.ReadASN1(&octets, cbasn1.OCTET_STRING) || !ec.Empty() {
		return perr(field+".eContent", "not a single primitive OCTET STRING")
	}
	sd.EContent = []byte(octets)
	if sd.EContent == nil {
		sd.EContent = []byte{}
	}
	return nil
}

// readAlgorithm reads an pki.AlgorithmIdentifier, naming field when it is
// wrong.
func readAlgorithm(s *cryptobyte.String, field string) (pki.AlgorithmIdentifier, error) {
	a, err := pki.ReadAlgorithmIdentifier(s)
	if err != nil {
		return a, perr(field, "%v", err)
	}
	return a, nil
}

func readSignerInfo(s *cryptobyte.String, field string) (*SignerInfo, error) {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, perr(field, "not a SEQUENCE")
	}
	si := &SignerInfo{}
	if !seq.ReadASN1Integer(&si.Version) {
		return nil, perr(field+".version", "not an INTEGER that fits an int")
	}
	switch {
	case seq.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		if !seq.ReadASN1(&ias, cbasn1.SEQUENCE) {
			return nil, perr(field+".sid", "not a DER issuerAndSerialNumber SEQUENCE")
		}
		if !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) {
			return nil, perr(field+".sid.issuer", "not a Name SEQUENCE")
		}
		if _, err := pki.ParseName(issuer); err != nil {
			return nil, perr(field+".sid.issuer", "%v", err)
		}
		si.Issuer = issuer
		si.SerialNumber = new(big.Int)
		if !ias.ReadASN1Integer(si.SerialNumber) {
			return nil, perr(field+".sid.serialNumber", "not a DER INTEGER")
		}
		if !ias.Empty() {
			return nil, perr(field+".sid", "data after serialNumber")
		}
	case seq.PeekASN1Tag(tagCtx0):
		var ski cryptobyte.String
		if !seq.ReadASN1(&ski, tagCtx0) {
			return nil, perr(field+".sid", "not a DER [0] subjectKeyIdentifier")
		}
		si.SubjectKeyIdentifier = ski
		if si.SubjectKeyIdentifier == nil {
			si.SubjectKeyIdentifier = []byte{}
		}
	default:
		return nil, perr(field+".sid", "neither an issuerAndSerialNumber nor a [0] subjectKeyIdentifier")
	}
	var err error
	if si.DigestAlgorithm, err = readAlgorithm(&seq, field+".digestAlgorithm"); err != nil {
		return nil, err
	}
	if seq.PeekASN1Tag(tagCtx0Constr) {
		var raw cryptobyte.String
		if !seq.ReadASN1Element(&raw, tagCtx0Constr) {
			return nil, perr(field+".signedAttrs", "not a DER [0] IMPLICIT SET")
		}
		si.RawSignedAttrs = raw
		if err := si.parseSignedAttrs(field + ".signedAttrs"); err != nil {
			return nil, err
		}
	}
	if si.SignatureAlgorithm, err = readAlgorithm(&seq, field+".signatureAlgorithm"); err != nil {
		return nil, err
	}
	var sig cryptobyte.String
	if !seq.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, perr(field+".signature", "not a primitive OCTET STRING")
	}
	si.Signature = sig
	if si.Signature == nil {
		si.Signature = []byte{}
	}
	if seq.PeekASN1Tag(tagCtx1Constr) {
		var raw cryptobyte.String
		if !seq.ReadASN1Element(&raw, tagCtx1Constr) {
			return nil, perr(field+".unsignedAttrs", "not a DER [1] IMPLICIT SET")
		}
		var attrs cryptobyte.String
		outer := raw
		outer.ReadASN1(&attrs, tagCtx1Constr) // cannot fail: the element was read with this tag
		if _, err := readAttributes(attrs, field+".unsignedAttrs"); err != nil {
			return nil, err
		}
		si.RawUnsignedAttrs = raw
	}
	if !seq.Empty() {
		return nil, perr(field, "data after the last field")
	}
	return si, nil
}

func readAttributes(s cryptobyte.String, field string) ([]Attribute, error) {
	if s.Empty() {
		return nil, perr(field, "an empty SET (it must hold at least one attribute)")
	}
	var attrs []Attribute
	for i := 0; !s.Empty(); i++ {
		f := fmt.Sprintf("%s[%d]", field, i)
		var seq, values cryptobyte.String
		var a Attribute
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return nil, perr(f, "not an Attribute SEQUENCE")
		}
		if !seq.ReadASN1ObjectIdentifier(&a.Type) {
			return nil, perr(f+".attrType", "not an OBJECT IDENTIFIER")
		}
		if !seq.ReadASN1(&values, cbasn1.SET) || !seq.Empty() {
			return nil, perr(f+".attrValues", "not a SET ending the Attribute")
		}
		a.Values = [][]byte{}
		for !values.Empty() {
			var v cryptobyte.String
			if !values.ReadAnyASN1Element(&v, nil) {
				return nil, perr(f+".attrValues", "not a DER element")
			}
			a.Values = append(a.Values, v)
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

func (si *SignerInfo) parseSignedAttrs(field string) error {
	var s cryptobyte.String
	raw := cryptobyte.String(si.RawSignedAttrs)
	raw.ReadASN1(&s, tagCtx0Constr) // cannot fail: the element was read with this tag
	attrs, err := readAttributes(s, field)
	if err != nil {
		return err
	}
	si.SignedAttrs = attrs
	for i, a := range attrs {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case a.Type.Equal(OIDContentType):
			if si.ContentType != nil {
				return perr(f, "a second contentType attribute")
			}
			if len(a.Values) != 1 {
				return perr(f, "contentType with %d values, want 1", len(a.Values))
			}
			v := cryptobyte.String(a.Values[0])
			var oid asn1.ObjectIdentifier
			if !v.ReadASN1ObjectIdentifier(&oid) || !v.Empty() {
				return perr(f, "the contentType value is not an OBJECT IDENTIFIER")
			}
			si.ContentType = oid
		case a.Type.Equal(OIDMessageDigest):
			if si.MessageDigest != nil {
				return perr(f, "a second messageDigest attribute")
			}
			if len(a.Values) != 1 {
				return perr(f, "messageDigest with %d values, want 1", len(a.Values))
			}
			v := cryptobyte.String(a.Values[0])
			var d cryptobyte.String
			if !v.ReadASN1(&d, cbasn1.OCTET_STRING) || !v.Empty() {
				return perr(f, "the messageDigest value is not a primitive OCTET STRING")
			}
			si.MessageDigest = d
			if si.MessageDigest == nil {
				si.MessageDigest = []byte{}
			}
		}
	}
	if si.ContentType == nil {
		return perr(field, "no contentType attribute")
	}
	if si.MessageDigest == nil {
		return perr(field, "no messageDigest attribute")
	}
	return nil
}

// MarshalSignedAttrs encodes attrs as a signedAttrs element with its
// [0] IMPLICIT tag, ready for SignerInfo.RawSignedAttrs, with the
// attributes in DER's SET OF order. Each value must be one DER element.
func MarshalSignedAttrs(attrs []Attribute) ([]byte, error) {
	enc := make([][]byte, 0, len(attrs))
	for i, a := range attrs {
		var b cryptobyte.Builder
		if err := checkElements(a.Values, fmt.Sprintf("attrs[%d].Values", i)); err != nil {
			return nil, err
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(a.Type)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, v := range a.Values {
					b.AddBytes(v)
				}
			})
		})
		e, err := b.Bytes()
		if err != nil {
			return nil, fmt.Errorf("cms: attrs[%d]: %w", i, err)
		}
		enc = append(enc, e)
	}
	slices.SortFunc(enc, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(tagCtx0Constr, func(b *cryptobyte.Builder) {
		for _, e := range enc {
			b.AddBytes(e)
		}
	})
	return b.Bytes()
}

// checkElements checks that each of raw is exactly one DER element.
func checkElements(raw [][]byte, field string) error {
	for i, r := range raw {
		s := cryptobyte.String(r)
		var e cryptobyte.String
		if !s.ReadAnyASN1Element(&e, nil) || !s.Empty() {
			return perr(fmt.Sprintf("%s[%d]", field, i), "not exactly one DER element")
		}
	}
	return nil
}

func checkElement(raw []byte, tag cbasn1.Tag, field string) error {
	s := cryptobyte.String(raw)
	var e cryptobyte.String
	if !s.ReadASN1Element(&e, tag) || !s.Empty() {
		return perr(field, "not exactly one DER element with tag 0x%02x", uint8(tag))
	}
	return nil
}

func addAlgorithm(b *cryptobyte.Builder, a pki.AlgorithmIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.Algorithm)
		if a.Parameters != nil {
			b.AddBytes(a.Parameters)
		}
	})
}

func checkAlgorithm(a pki.AlgorithmIdentifier, field string) error {
	if a.Parameters == nil {
		return nil
	}
	return checkElements([][]byte{a.Parameters}, field+".Parameters")
}

// Marshal encodes sd as a DER ContentInfo, the inverse of
// ParseSignedData. It writes the raw fields (certificates, signed and
// unsigned attributes, parameters) as they are, after checking that each
// is one DER element, and ignores SignerInfo's parsed ContentType and
// MessageDigest: RawSignedAttrs is what is signed.
func (sd *SignedData) Marshal() ([]byte, error) {
	for i, a := range sd.DigestAlgorithms {
		if err := checkAlgorithm(a, fmt.Sprintf("DigestAlgorithms[%d]", i)); err != nil {
			return nil, err
		}
	}
	if err := checkElements(sd.Certificates, "Certificates"); err != nil {
		return nil, err
	}
	if err := checkElements(sd.CRLs, "CRLs"); err != nil {
		return nil, err
	}
	for i := range sd.SignerInfos {
		if err := sd.SignerInfos[i].check(fmt.Sprintf("SignerInfos[%d]", i)); err != nil {
			return nil, err
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(tagCtx0Constr, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(sd.Version))
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, a := range sd.DigestAlgorithms {
						addAlgorithm(b, a)
					}
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(sd.EContentType)
					if sd.EContent != nil {
						b.AddASN1(tagCtx0Constr, func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(sd.EContent)
						})
					}
				})
				if sd.Certificates != nil {
					b.AddASN1(tagCtx0Constr, func(b *cryptobyte.Builder) {
						for _, c := range sd.Certificates {
							b.AddBytes(c)
						}
					})
				}
				if sd.CRLs != nil {
					b.AddASN1(tagCtx1Constr, func(b *cryptobyte.Builder) {
						for _, c := range sd.CRLs {
							b.AddBytes(c)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for i := range sd.SignerInfos {
						sd.SignerInfos[i].marshal(b)
					}
				})
			})
		})
	})
	return b.Bytes()
}

func (si *SignerInfo) check(field string) error {
	switch {
	case si.Issuer != nil && si.SubjectKeyIdentifier != nil:
		return perr(field, "both an issuer and a subjectKeyIdentifier")
	case si.Issuer != nil:
		if si.SerialNumber == nil {
			return perr(field+".SerialNumber", "missing")
		}
		if err := checkElement(si.Issuer, cbasn1.SEQUENCE, field+".Issuer"); err != nil {
			return err
		}
	case si.SubjectKeyIdentifier == nil:
		return perr(field, "neither an issuer nor a subjectKeyIdentifier")
	}
	if err := checkAlgorithm(si.DigestAlgorithm, field+".DigestAlgorithm"); err != nil {
		return err
	}
	if err := checkAlgorithm(si.SignatureAlgorithm, field+".SignatureAlgorithm"); err != nil {
		return err
	}
	if si.RawSignedAttrs != nil {
		if err := checkElement(si.RawSignedAttrs, tagCtx0Constr, field+".RawSignedAttrs"); err != nil {
			return err
		}
	}
	if si.RawUnsignedAttrs != nil {
		if err := checkElement(si.RawUnsignedAttrs, tagCtx1Constr, field+".RawUnsignedAttrs"); err != nil {
			return err
		}
	}
	return nil
}

func (si *SignerInfo) marshal(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(int64(si.Version))
		if si.Issuer != nil {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(si.Issuer)
				b.AddASN1BigInt(si.SerialNumber)
			})
		} else {
			b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
				b.AddBytes(si.SubjectKeyIdentifier)
			})
		}
		addAlgorithm(b, si.DigestAlgorithm)
		if si.RawSignedAttrs != nil {
			b.AddBytes(si.RawSignedAttrs)
		}
		addAlgorithm(b, si.SignatureAlgorithm)
		b.AddASN1OctetString(si.Signature)
		if si.RawUnsignedAttrs != nil {
			b.AddBytes(si.RawUnsignedAttrs)
		}
	})
}
