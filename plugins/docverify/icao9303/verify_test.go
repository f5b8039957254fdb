package icao9303_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303"
	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
)

func trustOf(t *testing.T, d *icaotest.Document) *icao9303.Trust {
	t.Helper()
	var tr icao9303.Trust
	if err := tr.AddCSCA(d.CSCA, "test CSCA"); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func doc(d *icaotest.Document) docverify.Document {
	dgs := map[int][]byte{}
	for n, f := range d.DataGroups {
		dgs[n] = append([]byte(nil), f...)
	}
	return docverify.Document{SOD: append([]byte(nil), d.SOD...), DataGroups: dgs, At: time.Now()}
}

func result(v *docverify.Verdict, name string) docverify.Result {
	for _, c := range v.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return 0
}

func describe(v *docverify.Verdict) string {
	var b strings.Builder
	for _, c := range v.Checks {
		b.WriteString(c.Name + "=" + c.Result.String() + " " + c.Detail + "; ")
	}
	return b.String()
}

// Every kind of key real documents use: a genuine document passes, with
// every check named.
func TestGenuineDocuments(t *testing.T) {
	for _, o := range []icaotest.Options{
		{Signer: "rsa"}, {Signer: "rsa-pss"}, {Signer: "p256"}, {Signer: "rsa", BER: true},
		{Signer: "brainpoolP256r1"}, {Signer: "brainpoolP384r1", Explicit: true}, {Signer: "brainpoolP512r1"},
	} {
		t.Run(o.Signer+map[bool]string{true: "-explicit"}[o.Explicit]+map[bool]string{true: "-ber"}[o.BER], func(t *testing.T) {
			d := icaotest.New(t, o)
			v := icao9303.Verify(trustOf(t, d), doc(d))
			if !v.Genuine {
				t.Fatalf("%s: %s", v.Reason, describe(v))
			}
			for _, name := range []string{icao9303.CheckSODSignature, icao9303.CheckDG(1), icao9303.CheckDG(15), icao9303.CheckChain,
				icao9303.CheckMRZ, icao9303.CheckExpiry} {
				if result(v, name) != docverify.OK {
					t.Errorf("%s: %s", name, describe(v))
				}
			}
			if v.Holder == nil || v.Holder.Surname != "ERIKSSON" || v.Holder.DateOfBirth != "1974-08-12" {
				t.Errorf("holder %+v", v.Holder)
			}
		})
	}
}

// What a correct verifier must refuse.
func TestRejectedDocuments(t *testing.T) {
	d := icaotest.New(t, icaotest.Options{Signer: "p256"})
	tr := trustOf(t, d)
	other := icaotest.New(t, icaotest.Options{Signer: "p256"})
	for name, c := range map[string]struct {
		change func(*docverify.Document)
		trust  *icao9303.Trust
		check  string
	}{
		"a flipped byte in the SOD's signature": {func(x *docverify.Document) { x.SOD[len(x.SOD)-1] ^= 1 }, tr, icao9303.CheckSODSignature},
		"a flipped byte in DG1":                 {func(x *docverify.Document) { x.DataGroups[1][10] ^= 1 }, tr, icao9303.CheckDG(1)},
		"a DG the SOD does not list":            {func(x *docverify.Document) { x.DataGroups[3] = []byte{0x63, 0} }, tr, icao9303.CheckDG(3)},
		"the wrong CSCA":                        {func(*docverify.Document) {}, trustOf(t, other), icao9303.CheckChain},
		"a time before the signer":              {func(x *docverify.Document) { x.At = time.Now().AddDate(-3, 0, 0) }, tr, icao9303.CheckChain},
	} {
		t.Run(name, func(t *testing.T) {
			x := doc(d)
			c.change(&x)
			v := icao9303.Verify(c.trust, x)
			if v.Genuine || result(v, c.check) != docverify.Failed || !strings.HasPrefix(v.Reason, c.check) {
				t.Fatalf("want %s failed: %s | %s", c.check, v.Reason, describe(v))
			}
		})
	}
	expired := icaotest.New(t, icaotest.Options{Signer: "rsa", Expiry: time.Now().AddDate(0, 0, -2)})
	if v := icao9303.Verify(trustOf(t, expired), doc(expired)); v.Genuine || result(v, icao9303.CheckExpiry) != docverify.Failed {
		t.Fatalf("an expired document: %s", describe(v))
	}
	// A listed DG not supplied is skipped, not failed.
	x := doc(d)
	delete(x.DataGroups, 15)
	if v := icao9303.Verify(tr, x); !v.Genuine || result(v, icao9303.CheckDG(15)) != docverify.Skipped {
		t.Fatalf("DG15 not supplied: %s", describe(v))
	}
}

// A revoked document signer fails the CRL check.
func TestRevokedSigner(t *testing.T) {
	d := icaotest.New(t, icaotest.Options{Signer: "rsa"})
	crl := d.CRL(t)
	tr := trustOf(t, d)
	if err := tr.AddCRL(crl); err != nil {
		t.Fatal(err)
	}
	if v := icao9303.Verify(tr, doc(d)); v.Genuine || result(v, icao9303.CheckCRL) != docverify.Failed {
		t.Fatalf("a revoked signer: %s", describe(v))
	}
}

// A document signer certificate or a CRL with a critical extension the
// verifier does not know cannot be relied on (RFC 5280 4.2): the check
// that would use it fails and names the extension.
func TestUnhandledCriticalExtensions(t *testing.T) {
	odd := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 7}
	d := icaotest.New(t, icaotest.Options{Signer: "p256", CriticalExtension: odd})
	v := icao9303.Verify(trustOf(t, d), doc(d))
	if v.Genuine || result(v, icao9303.CheckChain) != docverify.Failed || !strings.Contains(v.Reason, odd.String()) {
		t.Fatalf("a document signer with an unknown critical extension: %s | %s", v.Reason, describe(v))
	}

	d = icaotest.New(t, icaotest.Options{Signer: "rsa"})
	tr := trustOf(t, d)
	// A partitioned CRL (issuingDistributionPoint, critical) might not
	// list the document signer even if it is revoked.
	idp := asn1.ObjectIdentifier{2, 5, 29, 28}
	if err := tr.AddCRL(d.CRL(t, pkix.Extension{Id: idp, Critical: true, Value: []byte{0x30, 0x03, 0x81, 0x01, 0xff}})); err != nil {
		t.Fatal(err)
	}
	v = icao9303.Verify(tr, doc(d))
	if v.Genuine || result(v, icao9303.CheckCRL) != docverify.Failed || !strings.Contains(v.Reason, "2.5.29.28") {
		t.Fatalf("a CRL with an unknown critical extension: %s | %s", v.Reason, describe(v))
	}
	if result(v, icao9303.CheckChain) != docverify.OK {
		t.Fatalf("the chain itself is fine: %s", describe(v))
	}
}

// A CSCA master list, verified against the CSCA configured as its
// anchor, makes its CSCAs trusted; a list that was altered, one its
// anchor did not vouch for, and one whose signer lacks ICAO's master list
// key usage add nothing.
func TestMasterLists(t *testing.T) {
	anchor := icaotest.New(t, icaotest.Options{Signer: "rsa"})
	listed := icaotest.New(t, icaotest.Options{Signer: "p256"})
	unlisted := icaotest.New(t, icaotest.Options{Signer: "p256"})
	ml := anchor.MasterList(t, [][]byte{listed.CSCA, anchor.CSCA}, nil)

	var tr icao9303.Trust
	if n, err := tr.AddMasterList(ml, anchor.CSCA, time.Now()); err != nil || n != 2 {
		t.Fatalf("AddMasterList = %d, %v", n, err)
	}
	if v := icao9303.Verify(&tr, doc(listed)); !v.Genuine {
		t.Fatalf("a document of a listed CSCA: %s", describe(v))
	}
	if v := icao9303.Verify(&tr, doc(unlisted)); v.Genuine || result(v, icao9303.CheckChain) != docverify.Failed {
		t.Fatalf("a document of a CSCA the list does not hold: %s", describe(v))
	}

	altered := bytes.Clone(ml)
	i := bytes.Index(altered, listed.CSCA)
	altered[i+len(listed.CSCA)/2] ^= 1
	for name, c := range map[string]struct {
		ml, anchor []byte
		want       string
	}{
		"an altered list":          {altered, anchor.CSCA, "messageDigest"},
		"another anchor":           {ml, listed.CSCA, "is not signed by the anchor"},
		"a signer without the EKU": {anchor.MasterList(t, [][]byte{listed.CSCA}, []asn1.ObjectIdentifier{}), anchor.CSCA, "master list signing key usage"},
		"a signer with another EKU": {anchor.MasterList(t, [][]byte{listed.CSCA}, []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 4}}), anchor.CSCA,
			"master list signing key usage"},
		"not a master list": {sodSignedData(t, listed), anchor.CSCA, "eContentType"},
	} {
		t.Run(name, func(t *testing.T) {
			var tr icao9303.Trust
			n, err := tr.AddMasterList(c.ml, c.anchor, time.Now())
			if err == nil || !strings.Contains(err.Error(), c.want) || n != 0 || len(tr.CSCAs) != 0 {
				t.Fatalf("AddMasterList = %d, %v; want an error saying %q", n, err, c.want)
			}
		})
	}
}

// sodSignedData is the SignedData inside d's EF.SOD (tag 0x77).
func sodSignedData(t *testing.T, d *icaotest.Document) []byte {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(d.SOD, &v); err != nil || v.Tag != 23 {
		t.Fatalf("EF.SOD: %v", err)
	}
	return v.Bytes
}

// Active authentication over the server's challenge, RSA (ISO/IEC 9796-2)
// and ECDSA (plain r‖s, the hash from DG14); a replayed or altered answer,
// and a DG15 the SOD does not cover, fail.
func TestActiveAuthentication(t *testing.T) {
	for _, key := range []string{"rsa", "p256"} {
		t.Run(key, func(t *testing.T) {
			d := icaotest.New(t, icaotest.Options{Signer: "rsa", AA: key})
			tr := trustOf(t, d)
			challenge := []byte{1, 2, 3, 4, 5, 6, 7, 8}
			x := doc(d)
			x.AAChallenge, x.AASignature = challenge, d.SignAA(challenge)
			v := icao9303.Verify(tr, x)
			if !v.Genuine || !v.ActiveAuthenticated || result(v, icao9303.CheckAA) != docverify.OK {
				t.Fatalf("AA: %s", describe(v))
			}
			replay := doc(d)
			replay.AAChallenge, replay.AASignature = []byte{8, 7, 6, 5, 4, 3, 2, 1}, x.AASignature
			if v := icao9303.Verify(tr, replay); v.ActiveAuthenticated || result(v, icao9303.CheckAA) != docverify.Failed {
				t.Fatalf("an answer to another challenge: %s", describe(v))
			}
			flipped := doc(d)
			flipped.AAChallenge, flipped.AASignature = challenge, append([]byte(nil), x.AASignature...)
			flipped.AASignature[len(flipped.AASignature)/2] ^= 1
			if v := icao9303.Verify(tr, flipped); v.ActiveAuthenticated {
				t.Fatalf("a flipped AA signature: %s", describe(v))
			}
			// Another chip's DG15 with its own answer: the SOD does not cover it.
			other := icaotest.New(t, icaotest.Options{Signer: "rsa", AA: key})
			swapped := doc(d)
			swapped.DataGroups[15] = other.DataGroups[15]
			swapped.AAChallenge, swapped.AASignature = challenge, other.SignAA(challenge)
			if v := icao9303.Verify(tr, swapped); v.ActiveAuthenticated || v.Genuine {
				t.Fatalf("a cloned chip with its own key: %s", describe(v))
			}
		})
	}
}
