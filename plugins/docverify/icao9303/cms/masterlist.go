package cms

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/ber"
)

// MasterList is a CscaMasterList (ICAO 9303 part 12, eContentType
// 2.23.136.1.1.2): the CSCA certificates a state vouches for.
type MasterList struct {
	// Version is 0, the only version ICAO defines.
	Version int
	// Certificates is the DER of each certificate of certList, in the
	// order sent (not parsed here).
	Certificates [][]byte
}

// ParseMasterList parses the DER of a CscaMasterList (a master list
// SignedData's EContent). It refuses a version other than 0 and a certList
// member that is not a SEQUENCE; it does not parse the certificates.
func ParseMasterList(der []byte) (*MasterList, error) {
	in := cryptobyte.String(bytes.Clone(der))
	var seq, list cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, perr("CscaMasterList", "not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, perr("CscaMasterList", "%d bytes of trailing data", len(in))
	}
	m := &MasterList{}
	if !seq.ReadASN1Integer(&m.Version) {
		return nil, perr("CscaMasterList.version", "not an INTEGER that fits an int")
	}
	if m.Version != 0 {
		return nil, perr("CscaMasterList.version", "%d, want 0", m.Version)
	}
	if !seq.ReadASN1(&list, cbasn1.SET) {
		return nil, perr("CscaMasterList.certList", "not a SET")
	}
	if !seq.Empty() {
		return nil, perr("CscaMasterList", "data after certList")
	}
	m.Certificates = [][]byte{}
	for i := 0; !list.Empty(); i++ {
		var cert cryptobyte.String
		if !list.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
			return nil, perr(fmt.Sprintf("CscaMasterList.certList[%d]", i), "not a DER Certificate SEQUENCE")
		}
		m.Certificates = append(m.Certificates, cert)
	}
	return m, nil
}

// Marshal encodes m as DER, the inverse of ParseMasterList; the
// certificates go in the order of m.Certificates, unsorted.
func (m *MasterList) Marshal() ([]byte, error) {
	for i, c := range m.Certificates {
		if err := checkElement(c, cbasn1.SEQUENCE, fmt.Sprintf("MasterList.Certificates[%d]", i)); err != nil {
			return nil, err
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(int64(m.Version))
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, c := range m.Certificates {
				b.AddBytes(c)
			}
		})
	})
	return b.Bytes()
}

// ParseSignedMasterList parses a master list file: it normalises BER to DER
// (ber.Normalize), parses the SignedData, checks that its eContentType is
// id-icao-cscaMasterList and that there is an eContent, and parses that.
func ParseSignedMasterList(b []byte) (*SignedData, *MasterList, error) {
	der, err := ber.Normalize(b)
	if err != nil {
		return nil, nil, fmt.Errorf("cms: master list: %w", err)
	}
	sd, err := ParseSignedData(der)
	if err != nil {
		return nil, nil, err
	}
	if !sd.EContentType.Equal(OIDCscaMasterList) {
		return nil, nil, perr("SignedData.encapContentInfo.eContentType", "%v, want the CscaMasterList's %v", sd.EContentType, OIDCscaMasterList)
	}
	if sd.EContent == nil {
		return nil, nil, perr("SignedData.encapContentInfo.eContent", "absent (detached); a master list carries its CscaMasterList")
	}
	ml, err := ParseMasterList(sd.EContent)
	if err != nil {
		return nil, nil, err
	}
	return sd, ml, nil
}
