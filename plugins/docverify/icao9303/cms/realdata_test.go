//go:build realdata

package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/segl/segl/plugins/docverify/icao9303/ber"

	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// The public real-world data described in the shared PROVENANCE.md; it is
// never copied into the repository. Run with
//
//	SEGL_ICAO_TESTDATA=/path/to/testdata/icao go test -tags realdata ./plugins/docverify/icao9303/...
func testdata(t *testing.T) string {
	dir := os.Getenv("SEGL_ICAO_TESTDATA")
	if dir == "" {
		t.Fatal("SEGL_ICAO_TESTDATA is not set; it names the directory of the ICAO test data")
	}
	return dir
}

func read(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{testdata(t)}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func digest(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA1:
		d := sha1.Sum(b)
		return d[:]
	case crypto.SHA224:
		d := sha256.Sum224(b)
		return d[:]
	case crypto.SHA256:
		d := sha256.Sum256(b)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(b)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(b)
		return d[:]
	}
	return nil
}

var oidRSASSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}

func TestRealSODs(t *testing.T) {
	type want struct {
		version int
		hash    crypto.Hash
		dgs     []int // nil: not checked
		ber     bool  // sent with indefinite lengths
		sigAlg  asn1.ObjectIdentifier
		dgFiles bool // the directory has EF_DGn.bin files to hash
	}
	var (
		ecdsaSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
		ecdsaSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		ecdsaSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
		ecdsaSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
		rsa         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
		sha256RSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	)
	files := map[string]want{
		"real-sods/AT_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: ecdsaSHA256},
		"real-sods/DE_EF_SOD.bin":       {version: 1, hash: crypto.SHA384, sigAlg: ecdsaSHA384},
		"real-sods/FI_EF_SOD.bin":       {version: 1, hash: crypto.SHA512, sigAlg: ecdsaSHA512},
		"real-sods/FR_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: sha256RSA},
		"real-sods/ID_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: oidRSASSAPSS},
		"real-sods/MY_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: oidRSASSAPSS},
		"real-sods/NZ_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: rsa, ber: true},
		"real-sods/PH_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: oidRSASSAPSS},
		"real-sods/RU_EF_SOD.bin":       {version: 0, hash: crypto.SHA1, sigAlg: ecdsaSHA1},
		"real-sods/SG_EF_SOD.bin":       {version: 1, hash: crypto.SHA256, sigAlg: oidRSASSAPSS},
		"real-sods/UK_EF_SOD.bin":       {version: 1, hash: crypto.SHA256, sigAlg: ecdsaSHA256},
		"real-sods/US_EF_SOD.bin":       {version: 0, hash: crypto.SHA256, sigAlg: rsa},
		"nz-2013/EF_SOD.bin":            {version: 0, hash: crypto.SHA256, dgs: []int{1, 2, 12, 13, 15}, ber: true},
		"uk-2012-expired/EF_SOD.bin":    {version: 0, hash: crypto.SHA256, dgs: []int{1, 2}},
		"bsi2008-mustermann/EF_SOD.bin": {version: 0, hash: crypto.SHA1, dgs: []int{1, 2, 3, 14}, sigAlg: ecdsaSHA1, dgFiles: true},
		"nl-sdu-loes2006/EF_SOD.bin":    {version: 0, hash: crypto.SHA256, dgs: []int{1, 2, 15}, sigAlg: sha256RSA, dgFiles: true},
	}
	for name, w := range files {
		t.Run(name, func(t *testing.T) {
			raw := read(t, name)
			sd, lds, err := ParseSOD(raw)
			if err != nil {
				t.Fatalf("ParseSOD: %v", err)
			}
			if lds.Version != w.version || lds.Hash != w.hash {
				t.Errorf("LDSSecurityObject v%d %v, want v%d %v", lds.Version, lds.Hash, w.version, w.hash)
			}
			if (lds.VersionInfo != nil) != (w.version == 1) {
				t.Errorf("ldsVersionInfo %+v in version %d", lds.VersionInfo, lds.Version)
			}
			var dgs []int
			for _, d := range lds.DataGroupHashes {
				dgs = append(dgs, d.DataGroup)
			}
			if w.dgs != nil && !equalInts(dgs, w.dgs) {
				t.Errorf("data groups %v, want %v", dgs, w.dgs)
			}
			isBER := bytes.Contains(raw[:16], []byte{0x30, 0x80})
			if isBER != w.ber {
				t.Errorf("indefinite lengths: %v, want %v", isBER, w.ber)
			}
			if len(sd.SignerInfos) != 1 {
				t.Fatalf("%d signerInfos, want 1", len(sd.SignerInfos))
			}
			si := sd.SignerInfos[0]
			if w.sigAlg != nil && !si.SignatureAlgorithm.Algorithm.Equal(w.sigAlg) {
				t.Errorf("signatureAlgorithm %v, want %v", si.SignatureAlgorithm.Algorithm, w.sigAlg)
			}
			if si.SignatureAlgorithm.Algorithm.Equal(oidRSASSAPSS) && si.SignatureAlgorithm.Parameters == nil {
				t.Errorf("RSASSA-PSS without its parameters")
			}
			if !si.ContentType.Equal(OIDLDSSecurityObject) {
				t.Errorf("contentType attribute %v", si.ContentType)
			}
			// The messageDigest attribute is the digest of the eContent
			// with the SignerInfo's digest algorithm.
			h, ok := pki.HashForOID(si.DigestAlgorithm.Algorithm)
			if !ok {
				t.Fatalf("digestAlgorithm %v", si.DigestAlgorithm.Algorithm)
			}
			if !bytes.Equal(digest(h, sd.EContent), si.MessageDigest) {
				t.Errorf("messageDigest is not the %v of the eContent", h)
			}
			if len(sd.Certificates) != 1 {
				t.Fatalf("%d certificates, want the DSC alone", len(sd.Certificates))
			}
			// The sid names the embedded DSC: by issuer and serial (Names
			// compared as sets of attributes) or by key identifier.
			dsc := parseTBS(t, sd.Certificates[0])
			if si.Issuer != nil {
				if !pki.EqualNames(si.Issuer, dsc.issuer) {
					t.Errorf("sid issuer does not match the DSC's issuer")
				}
				if si.SerialNumber.Cmp(dsc.serial) != 0 {
					t.Errorf("sid serial %v, DSC serial %v", si.SerialNumber, dsc.serial)
				}
				if !bytes.Equal(si.Issuer, dsc.issuer) {
					t.Logf("%s: sid issuer and DSC issuer differ as bytes, equal as Names", name)
				}
			}
			if v := stdlibVerify(t, sd.Certificates, &si); v != "" {
				t.Logf("%s: %s", name, v)
			}
			if w.dgFiles {
				for _, d := range lds.DataGroupHashes {
					dg := read(t, filepath.Dir(name), "EF_DG"+strconv.Itoa(d.DataGroup)+".bin")
					if !bytes.Equal(digest(lds.Hash, dg), d.Hash) {
						t.Errorf("DG%d hash mismatch", d.DataGroup)
					}
				}
			}
			// Marshal gives back the normalised DER exactly.
			again, err := sd.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if reparsed, err := ParseSignedData(again); err != nil || !bytes.Equal(reparsed.EContent, sd.EContent) {
				t.Fatalf("Marshal's output does not re-parse: %v", err)
			}
			ldsDER, err := lds.Marshal()
			if err != nil || !bytes.Equal(ldsDER, sd.EContent) {
				t.Errorf("LDSSecurityObject.Marshal differs from the eContent (%v)", err)
			}
			inner, _ := ber.UnwrapSOD(raw)
			normalised, _ := ber.Normalize(inner)
			vi := ""
			if lds.VersionInfo != nil {
				vi = fmt.Sprintf(" (LDS %s, Unicode %s)", lds.VersionInfo.LDSVersion, lds.VersionInfo.UnicodeVersion)
			}
			t.Logf("%s: LDS SO v%d%s %v DGs %v; SignedData v%d, SignerInfo v%d; digest %v params %x; sig %v params %x; sid by issuer+serial %v; %d signed attrs; unsigned attrs %v; Normalize changed %v (%d -> %d bytes)",
				name, lds.Version, vi, lds.Hash, dgs, sd.Version, si.Version, h, si.DigestAlgorithm.Parameters,
				si.SignatureAlgorithm.Algorithm, si.SignatureAlgorithm.Parameters, si.Issuer != nil, len(si.SignedAttrs),
				si.RawUnsignedAttrs != nil, !bytes.Equal(inner, normalised), len(inner), len(normalised))
		})
	}
}

func TestRealCardSecurity(t *testing.T) {
	// DE_EF_CardSecurity.bin is a ContentInfo without the 0x77 wrapper,
	// signing PACE/CA SecurityInfos (eContentType id-SecurityObject,
	// 0.4.0.127.0.7.3.2.1).
	sd, err := ParseSignedData(read(t, "real-sods", "DE_EF_CardSecurity.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 3, 2, 1}); !sd.EContentType.Equal(want) {
		t.Errorf("eContentType %v, want %v", sd.EContentType, want)
	}
	if len(sd.SignerInfos) != 1 || len(sd.Certificates) != 1 {
		t.Errorf("%d signerInfos, %d certificates", len(sd.SignerInfos), len(sd.Certificates))
	}
}

func TestRealMasterLists(t *testing.T) {
	for name, want := range map[string]int{
		"NL_ML_2026-07-22.ml":          411,
		"DE_ML_2026-05-28-08-28-45.ml": 588,
	} {
		t.Run(name, func(t *testing.T) {
			sd, ml, err := ParseSignedMasterList(read(t, "masterlists", name))
			if err != nil {
				t.Fatal(err)
			}
			if len(ml.Certificates) != want {
				t.Errorf("%d CSCAs, want %d", len(ml.Certificates), want)
			}
			if len(sd.SignerInfos) != 1 {
				t.Fatalf("%d signerInfos", len(sd.SignerInfos))
			}
			si := sd.SignerInfos[0]
			h, ok := pki.HashForOID(si.DigestAlgorithm.Algorithm)
			if !ok || !bytes.Equal(digest(h, sd.EContent), si.MessageDigest) {
				t.Errorf("messageDigest is not the digest of the eContent")
			}
			if v := stdlibVerify(t, sd.Certificates, &si); v != "" {
				t.Logf("%s: %s", name, v)
			}
			tbsOK := 0
			for _, c := range ml.Certificates {
				if _, err := parseTBSErr(c); err == nil {
					tbsOK++
				}
			}
			if tbsOK != len(ml.Certificates) {
				t.Errorf("%d of %d certList entries have no TBS issuer/serial", len(ml.Certificates)-tbsOK, len(ml.Certificates))
			}
			x509OK := 0
			for _, c := range ml.Certificates {
				if _, err := x509.ParseCertificate(c); err == nil {
					x509OK++
				}
			}
			again, err := ml.Marshal()
			if err != nil || !bytes.Equal(again, sd.EContent) {
				t.Errorf("MasterList.Marshal differs from the eContent (%v)", err)
			}
			normalised, _ := ber.Normalize(read(t, "masterlists", name))
			t.Logf("%s: Normalize changed %v; SignedData v%d, SignerInfo v%d; ", name, !bytes.Equal(normalised, read(t, "masterlists", name)), sd.Version, si.Version)
			t.Logf("%d CSCAs (%d of them accepted by crypto/x509); %d signer certificates; sid issuer+serial %v, ski %x; digest %v; sig %v",
				len(ml.Certificates), x509OK, len(sd.Certificates), si.Issuer != nil, si.SubjectKeyIdentifier, h, si.SignatureAlgorithm.Algorithm)
		})
	}
}

type tbs struct {
	issuer []byte
	serial *big.Int
}

// parseTBSErr reads a certificate's serial number and issuer with
// cryptobyte: crypto/x509 refuses the explicit EC parameters of most ICAO
// certificates.
func parseTBSErr(cert []byte) (tbs, error) {
	var r tbs
	s := cryptobyte.String(cert)
	var c, t, issuer cryptobyte.String
	if !s.ReadASN1(&c, cbasn1.SEQUENCE) || !s.Empty() || !c.ReadASN1(&t, cbasn1.SEQUENCE) {
		return r, errors.New("not a Certificate")
	}
	if !t.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return r, errors.New("bad version")
	}
	r.serial = new(big.Int)
	if !t.ReadASN1Integer(r.serial) || !t.SkipASN1(cbasn1.SEQUENCE) || !t.ReadASN1Element(&issuer, cbasn1.SEQUENCE) {
		return r, errors.New("bad TBSCertificate")
	}
	r.issuer = issuer
	return r, nil
}

func parseTBS(t *testing.T, cert []byte) tbs {
	t.Helper()
	r, err := parseTBSErr(cert)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stdlibVerify checks si's signature over SignedAttrsToVerify with the
// standard library, where crypto/x509 can parse the signer's certificate
// (RSA keys and ECDSA keys on named curves); it says what it did. It is
// the check that SignedAttrsToVerify gives the bytes that were signed.
func stdlibVerify(t *testing.T, certs [][]byte, si *SignerInfo) string {
	t.Helper()
	var cert *x509.Certificate
	for _, der := range certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		if si.SubjectKeyIdentifier != nil && bytes.Equal(c.SubjectKeyId, si.SubjectKeyIdentifier) ||
			si.Issuer != nil && pki.EqualNames(c.RawIssuer, si.Issuer) && c.SerialNumber.Cmp(si.SerialNumber) == 0 {
			cert = c
		}
	}
	if cert == nil {
		return "signer certificate not parsed by crypto/x509; signature not checked here"
	}
	h, ok := pki.HashForOID(si.DigestAlgorithm.Algorithm)
	if !ok {
		t.Fatalf("digest %v", si.DigestAlgorithm.Algorithm)
	}
	d := digest(h, si.SignedAttrsToVerify())
	var err error
	alg := si.SignatureAlgorithm.Algorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if alg.Equal(oidRSASSAPSS) {
			err = rsa.VerifyPSS(pub, h, d, si.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, d, si.Signature)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, d, si.Signature) {
			err = errors.New("ECDSA verification failed")
		}
	default:
		return fmt.Sprintf("key type %T not checked here", pub)
	}
	if err != nil {
		t.Errorf("signature over SignedAttrsToVerify (%v): %v", alg, err)
		return ""
	}
	return fmt.Sprintf("signature over SignedAttrsToVerify verified with crypto/%T (%v)", cert.PublicKey, alg)
}
