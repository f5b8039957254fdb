package cms

import (
	"bytes"
	"crypto"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/ber"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// LDSSecurityObject is the content an EF.SOD signs (ICAO 9303 part 10,
// OID 2.23.136.1.1.1): the hash of each data group.
type LDSSecurityObject struct {
	// Version is 0, or 1 with VersionInfo.
	Version int
	// HashAlgorithm is as sent; Hash is its hash function.
	HashAlgorithm pki.AlgorithmIdentifier
	Hash          crypto.Hash
	// DataGroupHashes in the order sent; DataGroupHash looks one up.
	DataGroupHashes []DataGroupHash
	// VersionInfo is ldsVersionInfo, present exactly in version 1.
	VersionInfo *LDSVersionInfo
}

// DataGroupHash is one data group's hash.
type DataGroupHash struct {
	DataGroup int // 1 to 16
	Hash      []byte
}

// LDSVersionInfo is an LDSSecurityObject v1's ldsVersionInfo, for
// instance LDSVersion "0108" (LDS 1.8) and UnicodeVersion "040000".
type LDSVersionInfo struct {
	LDSVersion     string
	UnicodeVersion string
}

// DataGroupHash returns the hash the SOD lists for data group dg, and
// whether it lists one.
func (o *LDSSecurityObject) DataGroupHash(dg int) ([]byte, bool) {
	for _, d := range o.DataGroupHashes {
		if d.DataGroup == dg {
			return d.Hash, true
		}
	}
	return nil, false
}

// ParseLDSSecurityObject parses the DER of an LDSSecurityObject (an EF.SOD's
// EContent). It refuses a version other than 0 and 1, a version 1 without
// ldsVersionInfo and a version 0 with it, a hash algorithm other than
// SHA-1/224/256/384/512 or one whose parameters are neither absent nor
// NULL, fewer than 2 data group hashes (the ASN.1 says SIZE (2..16)), a
// data group number outside 1..16 or listed twice, and a hash whose length
// is not the hash function's.
func ParseLDSSecurityObject(der []byte) (*LDSSecurityObject, error) {
	in := cryptobyte.String(bytes.Clone(der))
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, perr("LDSSecurityObject", "not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, perr("LDSSecurityObject", "%d bytes of trailing data", len(in))
	}
	o := &LDSSecurityObject{}
	if !seq.ReadASN1Integer(&o.Version) {
		return nil, perr("LDSSecurityObject.version", "not an INTEGER that fits an int")
	}
	if o.Version != 0 && o.Version != 1 {
		return nil, perr("LDSSecurityObject.version", "%d, want 0 or 1", o.Version)
	}
	var err error
	if o.HashAlgorithm, err = readAlgorithm(&seq, "LDSSecurityObject.hashAlgorithm"); err != nil {
		return nil, err
	}
	var ok bool
	if o.Hash, ok = pki.HashForOID(o.HashAlgorithm.Algorithm); !ok {
		return nil, perr("LDSSecurityObject.hashAlgorithm", "%v is not SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", o.HashAlgorithm.Algorithm)
	}
	if p := o.HashAlgorithm.Parameters; p != nil && !bytes.Equal(p, []byte{0x05, 0x00}) {
		return nil, perr("LDSSecurityObject.hashAlgorithm.parameters", "neither absent nor NULL")
	}

	var dgs cryptobyte.String
	if !seq.ReadASN1(&dgs, cbasn1.SEQUENCE) {
		return nil, perr("LDSSecurityObject.dataGroupHashValues", "not a SEQUENCE")
	}
	for i := 0; !dgs.Empty(); i++ {
		f := fmt.Sprintf("LDSSecurityObject.dataGroupHashValues[%d]", i)
		var dg, hash cryptobyte.String
		var d DataGroupHash
		if !dgs.ReadASN1(&dg, cbasn1.SEQUENCE) {
			return nil, perr(f, "not a DataGroupHash SEQUENCE")
		}
		if !dg.ReadASN1Integer(&d.DataGroup) || d.DataGroup < 1 || d.DataGroup > 16 {
			return nil, perr(f+".dataGroupNumber", "not an INTEGER from 1 to 16")
		}
		if !dg.ReadASN1(&hash, cbasn1.OCTET_STRING) || !dg.Empty() {
			return nil, perr(f+".dataGroupHashValue", "not a primitive OCTET STRING ending the DataGroupHash")
		}
		if len(hash) != o.Hash.Size() {
			return nil, perr(f+".dataGroupHashValue", "%d bytes for DG%d, but %v gives %d", len(hash), d.DataGroup, o.Hash, o.Hash.Size())
		}
		if _, dup := o.DataGroupHash(d.DataGroup); dup {
			return nil, perr(f, "DG%d listed a second time", d.DataGroup)
		}
		d.Hash = hash
		o.DataGroupHashes = append(o.DataGroupHashes, d)
	}
	if len(o.DataGroupHashes) < 2 {
		return nil, perr("LDSSecurityObject.dataGroupHashValues", "%d data group hashes, fewer than the 2 ICAO 9303 requires", len(o.DataGroupHashes))
	}

	if !seq.Empty() {
		var vi cryptobyte.String
		if !seq.ReadASN1(&vi, cbasn1.SEQUENCE) {
			return nil, perr("LDSSecurityObject.ldsVersionInfo", "not a SEQUENCE")
		}
		o.VersionInfo = &LDSVersionInfo{}
		for _, f := range []struct {
			name string
			out  *string
		}{{"ldsVersion", &o.VersionInfo.LDSVersion}, {"unicodeVersion", &o.VersionInfo.UnicodeVersion}} {
			var v cryptobyte.String
			if !vi.ReadASN1(&v, cbasn1.PrintableString) {
				return nil, perr("LDSSecurityObject.ldsVersionInfo."+f.name, "not a PrintableString")
			}
			text, err := pki.DecodeString(cbasn1.PrintableString, v)
			if err != nil {
				return nil, perr("LDSSecurityObject.ldsVersionInfo."+f.name, "%v", err)
			}
			*f.out = text
		}
		if !vi.Empty() {
			return nil, perr("LDSSecurityObject.ldsVersionInfo", "data after unicodeVersion")
		}
		if !seq.Empty() {
			return nil, perr("LDSSecurityObject", "data after ldsVersionInfo")
		}
	}
	switch {
	case o.Version == 1 && o.VersionInfo == nil:
		return nil, perr("LDSSecurityObject.ldsVersionInfo", "missing in version 1")
	case o.Version == 0 && o.VersionInfo != nil:
		return nil, perr("LDSSecurityObject.ldsVersionInfo", "present in version 0")
	}
	return o, nil
}

// Marshal encodes o as DER, the inverse of ParseLDSSecurityObject. When
// HashAlgorithm.Algorithm is nil it writes the OID of Hash, without
// parameters. It does not check what ParseLDSSecurityObject checks, so
// that tests can build invalid objects.
func (o *LDSSecurityObject) Marshal() ([]byte, error) {
	alg := o.HashAlgorithm
	if alg.Algorithm == nil {
		if alg.Algorithm = pki.OIDForHash(o.Hash); alg.Algorithm == nil {
			return nil, perr("LDSSecurityObject.Hash", "%v has no OID here", o.Hash)
		}
	}
	if err := checkAlgorithm(alg, "LDSSecurityObject.HashAlgorithm"); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(int64(o.Version))
		addAlgorithm(b, alg)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, d := range o.DataGroupHashes {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(d.DataGroup))
					b.AddASN1OctetString(d.Hash)
				})
			}
		})
		if o.VersionInfo != nil {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(o.VersionInfo.LDSVersion)) })
				b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(o.VersionInfo.UnicodeVersion)) })
			})
		}
	})
	return b.Bytes()
}

// ParseSOD parses EF.SOD as a chip gives it: it strips the 0x77 wrapper
// (ber.UnwrapSOD), normalises BER to DER (ber.Normalize), parses the
// SignedData, checks that its eContentType is id-icao-ldsSecurityObject
// and that there is an eContent, and parses that. The SignedData's
// EContent is the LDSSecurityObject's DER as signed.
func ParseSOD(efSOD []byte) (*SignedData, *LDSSecurityObject, error) {
	inner, err := ber.UnwrapSOD(efSOD)
	if err != nil {
		return nil, nil, fmt.Errorf("cms: EF.SOD: %w", err)
	}
	der, err := ber.Normalize(inner)
	if err != nil {
		return nil, nil, fmt.Errorf("cms: EF.SOD: %w", err)
	}
	sd, err := ParseSignedData(der)
	if err != nil {
		return nil, nil, err
	}
	if !sd.EContentType.Equal(OIDLDSSecurityObject) {
		return nil, nil, perr("SignedData.encapContentInfo.eContentType", "%v, want the LDSSecurityObject's %v", sd.EContentType, OIDLDSSecurityObject)
	}
	if sd.EContent == nil {
		return nil, nil, perr("SignedData.encapContentInfo.eContent", "absent (detached); an EF.SOD carries its LDSSecurityObject")
	}
	lds, err := ParseLDSSecurityObject(sd.EContent)
	if err != nil {
		return nil, nil, err
	}
	return sd, lds, nil
}
