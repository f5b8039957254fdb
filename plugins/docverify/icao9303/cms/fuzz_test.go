package cms

import (
	"bytes"
	"crypto"
	"reflect"
	"testing"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// Each fuzz target checks that its parser never panics and that what it
// accepts re-encodes to the same bytes and re-parses to the same value.

func FuzzSignedData(f *testing.F) {
	s := newTestSigner(f)
	lds := testLDS(f)
	sd := s.signedData(f, OIDLDSSecurityObject, lds)
	der, err := sd.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	sd.SignerInfos[0].Issuer, sd.SignerInfos[0].SerialNumber, sd.SignerInfos[0].SubjectKeyIdentifier = nil, nil, []byte{1, 2}
	sd.SignerInfos[0].RawUnsignedAttrs = []byte{0xa1, 0x07, 0x30, 0x05, 0x06, 0x01, 0x2a, 0x31, 0x00}
	sd.CRLs = [][]byte{{0x30, 0x00}}
	sd.EContent = nil
	if der, err = sd.Marshal(); err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(append(append([]byte{0x77, 0x80}, toBER(f, der)...), 0, 0))
	// A small one, which mutations reach every field of sooner.
	small := &SignedData{Version: 1, DigestAlgorithms: []pki.AlgorithmIdentifier{}, EContentType: OIDData, EContent: []byte{1},
		SignerInfos: []SignerInfo{{Version: 3, SubjectKeyIdentifier: []byte{}, Signature: []byte{},
			DigestAlgorithm: pki.AlgorithmIdentifier{Algorithm: oidSHA256}, SignatureAlgorithm: pki.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, RawSignedAttrs: signedAttrs(f, OIDData, []byte{1})}}}
	if der, err = small.Marshal(); err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Fuzz(func(t *testing.T, in []byte) {
		ParseSOD(in)
		ParseSignedMasterList(in)
		sd, err := ParseSignedData(in)
		if err != nil {
			return
		}
		for i := range sd.SignerInfos {
			if a := sd.SignerInfos[i].SignedAttrsToVerify(); a != nil && (a[0] != 0x31 || !bytes.Equal(a[1:], sd.SignerInfos[i].RawSignedAttrs[1:])) {
				t.Fatalf("SignedAttrsToVerify % x", a)
			}
		}
		out, err := sd.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed SignedData: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Marshal(Parse(in)) != in\nin  % x\nout % x", in, out)
		}
		again, err := ParseSignedData(out)
		if err != nil || !reflect.DeepEqual(again, sd) {
			t.Fatalf("re-parse differs (%v)", err)
		}
	})
}

func FuzzLDSSecurityObject(f *testing.F) {
	for _, o := range []*LDSSecurityObject{
		{Hash: crypto.SHA1, DataGroupHashes: []DataGroupHash{{1, make([]byte, 20)}, {2, make([]byte, 20)}}},
		{Version: 1, Hash: crypto.SHA384, DataGroupHashes: []DataGroupHash{{16, make([]byte, 48)}, {2, make([]byte, 48)}},
			VersionInfo: &LDSVersionInfo{"0108", "040000"}},
		{HashAlgorithm: pki.AlgorithmIdentifier{Algorithm: pki.OIDForHash(crypto.SHA512), Parameters: []byte{5, 0}},
			DataGroupHashes: []DataGroupHash{{1, make([]byte, 64)}, {14, make([]byte, 64)}, {15, make([]byte, 64)}}},
	} {
		der, err := o.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := ParseLDSSecurityObject(in)
		if err != nil {
			return
		}
		if o.Hash.Size() == 0 || len(o.DataGroupHashes) < 2 {
			t.Fatalf("accepted %+v", o)
		}
		for _, d := range o.DataGroupHashes {
			if len(d.Hash) != o.Hash.Size() || d.DataGroup < 1 || d.DataGroup > 16 {
				t.Fatalf("accepted DG%d with %d bytes", d.DataGroup, len(d.Hash))
			}
		}
		out, err := o.Marshal()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("Marshal(Parse(in)) != in (%v)", err)
		}
		again, err := ParseLDSSecurityObject(out)
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("re-parse differs (%v)", err)
		}
	})
}

func FuzzMasterList(f *testing.F) {
	s := newTestSigner(f)
	for _, m := range []*MasterList{{}, {Certificates: [][]byte{s.cert.Raw}}, {Certificates: [][]byte{{0x30, 0x00}, {0x30, 0x01, 0x05}}}} {
		der, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMasterList(in)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("Marshal(Parse(in)) != in (%v)", err)
		}
		again, err := ParseMasterList(out)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-parse differs (%v)", err)
		}
	})
}
