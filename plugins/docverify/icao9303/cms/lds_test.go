package cms

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"reflect"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

func TestLDSSecurityObject(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, v1 := range []bool{false, true} {
			o := &LDSSecurityObject{Hash: h, DataGroupHashes: []DataGroupHash{
				{14, bytes.Repeat([]byte{14}, h.Size())}, {1, bytes.Repeat([]byte{1}, h.Size())}, {2, bytes.Repeat([]byte{2}, h.Size())},
			}}
			if v1 {
				o.Version = 1
				o.VersionInfo = &LDSVersionInfo{LDSVersion: "0108", UnicodeVersion: "040000"}
			}
			der, err := o.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseLDSSecurityObject(der)
			if err != nil {
				t.Fatalf("%v v1=%v: %v", h, v1, err)
			}
			if got.Hash != h || got.Version != o.Version || !reflect.DeepEqual(got.VersionInfo, o.VersionInfo) {
				t.Fatalf("got %+v", got)
			}
			if !reflect.DeepEqual(got.DataGroupHashes, o.DataGroupHashes) {
				t.Fatalf("DataGroupHashes %v, want %v (in the order sent)", got.DataGroupHashes, o.DataGroupHashes)
			}
			if d, ok := got.DataGroupHash(14); !ok || !bytes.Equal(d, o.DataGroupHashes[0].Hash) {
				t.Fatal("DataGroupHash(14)")
			}
			if _, ok := got.DataGroupHash(3); ok {
				t.Fatal("DataGroupHash(3) found")
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, der) {
				t.Fatalf("Marshal(Parse(der)) != der (%v)", err)
			}
		}
	}
}

// ldsDER builds an LDSSecurityObject by hand, so that tests can break it.
func ldsDER(t testing.TB, version int64, alg pki.AlgorithmIdentifier, dgs []DataGroupHash, extra func(b *cryptobyte.Builder)) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(version)
		addAlgorithm(b, alg)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, d := range dgs {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(d.DataGroup))
					b.AddASN1OctetString(d.Hash)
				})
			}
		})
		if extra != nil {
			extra(b)
		}
	})
	return b.BytesOrPanic()
}

func versionInfo(lds, unicode string) func(b *cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(lds)) })
			b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(unicode)) })
		})
	}
}

func TestLDSSecurityObjectErrors(t *testing.T) {
	sha256 := pki.AlgorithmIdentifier{Algorithm: pki.OIDForHash(crypto.SHA256)}
	h := func(n int) []byte { return bytes.Repeat([]byte{0xaa}, n) }
	two := []DataGroupHash{{1, h(32)}, {2, h(32)}}
	const f = "LDSSecurityObject"
	for _, tc := range []struct {
		name          string
		der           []byte
		field, reason string
	}{
		{"trailing data", append(ldsDER(t, 0, sha256, two, nil), 0), f, "1 bytes of trailing data"},
		{"version 2", ldsDER(t, 2, sha256, two, nil), f + ".version", "2, want 0 or 1"},
		{"version -1", ldsDER(t, -1, sha256, two, nil), f + ".version", "-1, want 0 or 1"},
		{"version 1 without ldsVersionInfo", ldsDER(t, 1, sha256, two, nil), f + ".ldsVersionInfo", "missing in version 1"},
		{"version 0 with ldsVersionInfo", ldsDER(t, 0, sha256, two, versionInfo("0108", "040000")), f + ".ldsVersionInfo", "present in version 0"},
		{"MD5", ldsDER(t, 0, pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}}, []DataGroupHash{{1, h(16)}, {2, h(16)}}, nil), f + ".hashAlgorithm", "1.2.840.113549.2.5 is not SHA-1"},
		{"SHA-512/256", ldsDER(t, 0, pki.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 6}}, two, nil), f + ".hashAlgorithm", "is not SHA-1"},
		{"hash parameters not NULL", ldsDER(t, 0, pki.AlgorithmIdentifier{Algorithm: sha256.Algorithm, Parameters: []byte{0x02, 0x01, 0x00}}, two, nil), f + ".hashAlgorithm.parameters", "neither absent nor NULL"},
		{"DG 0", ldsDER(t, 0, sha256, []DataGroupHash{{0, h(32)}, {2, h(32)}}, nil), f + ".dataGroupHashValues[0].dataGroupNumber", "from 1 to 16"},
		{"DG 17", ldsDER(t, 0, sha256, []DataGroupHash{{1, h(32)}, {17, h(32)}}, nil), f + ".dataGroupHashValues[1].dataGroupNumber", "from 1 to 16"},
		{"DG listed twice", ldsDER(t, 0, sha256, []DataGroupHash{{1, h(32)}, {2, h(32)}, {1, h(32)}}, nil), f + ".dataGroupHashValues[2]", "DG1 listed a second time"},
		{"hash too short", ldsDER(t, 0, sha256, []DataGroupHash{{1, h(32)}, {2, h(20)}}, nil), f + ".dataGroupHashValues[1].dataGroupHashValue", "20 bytes for DG2, but SHA-256 gives 32"},
		{"hash too long", ldsDER(t, 0, pki.AlgorithmIdentifier{Algorithm: pki.OIDForHash(crypto.SHA1)}, two, nil), f + ".dataGroupHashValues[0].dataGroupHashValue", "32 bytes for DG1, but SHA-1 gives 20"},
		{"one data group", ldsDER(t, 0, sha256, two[:1], nil), f + ".dataGroupHashValues", "1 data group hashes, fewer than the 2"},
		{"no data groups", ldsDER(t, 0, sha256, nil, nil), f + ".dataGroupHashValues", "0 data group hashes"},
		{"ldsVersion not PrintableString", ldsDER(t, 1, sha256, two, versionInfo("01*8", "040000")), f + ".ldsVersionInfo.ldsVersion", "byte 0x2a is not allowed in a PrintableString"},
		{"ldsVersionInfo with one string", ldsDER(t, 1, sha256, two, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte("0108")) })
			})
		}), f + ".ldsVersionInfo.unicodeVersion", "not a PrintableString"},
		{"data after ldsVersionInfo", ldsDER(t, 1, sha256, two, func(b *cryptobyte.Builder) {
			versionInfo("0108", "040000")(b)
			b.AddASN1NULL()
		}), f, "data after ldsVersionInfo"},
		{"DataGroupHash with an extra field", edit(t, ldsDER(t, 0, sha256, two, nil), []int{2, 1, 1}, appendEl(5, 0)), f + ".dataGroupHashValues[1].dataGroupHashValue", "not a primitive OCTET STRING ending the DataGroupHash"},
		{"empty input", nil, f, "not a DER SEQUENCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseLDSSecurityObject(tc.der)
			if err == nil {
				t.Fatalf("accepted: %+v", o)
			}
			errField(t, err, tc.field, tc.reason)
		})
	}
	// The NULL parameters some SODs send are fine, and kept.
	der := ldsDER(t, 0, pki.AlgorithmIdentifier{Algorithm: sha256.Algorithm, Parameters: []byte{5, 0}}, two, nil)
	o, err := ParseLDSSecurityObject(der)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := o.Marshal(); !bytes.Equal(again, der) {
		t.Fatal("NULL parameters lost")
	}
}

func TestParseSODErrors(t *testing.T) {
	s := newTestSigner(t)
	wrap := func(der []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.Tag(23).Constructed()|0x40, func(b *cryptobyte.Builder) { b.AddBytes(der) })
		return b.BytesOrPanic()
	}
	ml, err := (&MasterList{Certificates: [][]byte{s.cert.Raw}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	wrongType, err := s.signedData(t, OIDCscaMasterList, ml).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	detachedSD := s.signedData(t, OIDLDSSecurityObject, testLDS(t))
	detachedSD.EContent = nil
	detached, err := detachedSD.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	notLDS, err := s.signedData(t, OIDLDSSecurityObject, []byte{0x30, 0x00}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseSOD(wrongType); err == nil {
		t.Fatal("ParseSOD accepted a SOD without its 0x77 wrapper")
	}
	_, _, err = ParseSOD(wrap(wrongType))
	errField(t, err, "SignedData.encapContentInfo.eContentType", "want the LDSSecurityObject's")
	_, _, err = ParseSOD(wrap(detached))
	errField(t, err, "SignedData.encapContentInfo.eContent", "absent (detached)")
	_, _, err = ParseSOD(wrap(notLDS))
	errField(t, err, "LDSSecurityObject.version", "not an INTEGER")
}
