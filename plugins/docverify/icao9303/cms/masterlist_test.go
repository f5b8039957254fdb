package cms

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/segl/segl/plugins/docverify/icao9303/ber"
)

func TestMasterList(t *testing.T) {
	a, b := newTestSigner(t), newTestSigner(t)
	m := &MasterList{Certificates: [][]byte{b.cert.Raw, a.cert.Raw}}
	der, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMasterList(der)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 0 || len(got.Certificates) != 2 || !bytes.Equal(got.Certificates[0], b.cert.Raw) || !bytes.Equal(got.Certificates[1], a.cert.Raw) {
		t.Fatal("certificates changed, or their order")
	}
	if again, err := got.Marshal(); err != nil || !bytes.Equal(again, der) {
		t.Fatalf("Marshal(Parse(der)) != der (%v)", err)
	}
	empty, err := (&MasterList{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseMasterList(empty); err != nil || got.Certificates == nil || len(got.Certificates) != 0 {
		t.Fatalf("an empty certList: %+v, %v", got, err)
	}
	if _, err := (&MasterList{Certificates: [][]byte{{0x31, 0x00}}}).Marshal(); err == nil {
		t.Fatal("Marshal accepted a certificate that is not a SEQUENCE")
	}

	const f = "CscaMasterList"
	for _, tc := range []struct {
		name          string
		der           []byte
		field, reason string
	}{
		{"trailing data", append(bytes.Clone(der), 0), f, "1 bytes of trailing data"},
		{"version 1", edit(t, der, []int{0}, replaceEl(0x02, 0x01, 0x01)), f + ".version", "1, want 0"},
		{"certList a SEQUENCE", edit(t, der, []int{1}, replaceEl(0x30, 0x00)), f + ".certList", "not a SET"},
		{"a member not a Certificate", edit(t, der, []int{1, 1}, replaceEl(0x04, 0x00)), f + ".certList[1]", "not a DER Certificate SEQUENCE"},
		{"data after certList", edit(t, der, []int{1}, appendEl(0x05, 0x00)), f, "data after certList"},
		{"not DER", toBER(t, der), f, "not a DER SEQUENCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMasterList(tc.der)
			if err == nil {
				t.Fatalf("accepted: %d certificates", len(m.Certificates))
			}
			errField(t, err, tc.field, tc.reason)
		})
	}
}

func TestOpenSSLSignedMasterList(t *testing.T) {
	a, b := newTestSigner(t), newTestSigner(t)
	ml, err := (&MasterList{Certificates: [][]byte{a.cert.Raw, b.cert.Raw}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Master lists name their signer by key identifier (both real ones
	// do).
	der, cert := opensslSigned(t, "ec", true, "2.23.136.1.1.2", ml)
	for _, in := range [][]byte{der, toBER(t, der)} {
		sd, got, err := ParseSignedMasterList(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Certificates) != 2 || !bytes.Equal(got.Certificates[1], b.cert.Raw) {
			t.Fatalf("%d certificates", len(got.Certificates))
		}
		si := sd.SignerInfos[0]
		if !bytes.Equal(si.SubjectKeyIdentifier, cert.SubjectKeyId) || !si.ContentType.Equal(OIDCscaMasterList) {
			t.Fatalf("signerInfo %+v", si)
		}
		if d := sha256.Sum256(ml); !bytes.Equal(d[:], si.MessageDigest) {
			t.Fatal("messageDigest")
		}
	}
	// An EF.SOD is not a master list.
	sod, _ := opensslSigned(t, "ec", false, "2.23.136.1.1.1", testLDS(t))
	_, _, err = ParseSignedMasterList(sod)
	errField(t, err, "SignedData.encapContentInfo.eContentType", "want the CscaMasterList's")
	_, _, err = ParseSignedMasterList(append(bytes.Clone(der), 0))
	var se *ber.SyntaxError
	if !errors.As(err, &se) || se.Offset != len(der) {
		t.Fatalf("trailing data: %v, want a *ber.SyntaxError at offset %d", err, len(der))
	}
}
