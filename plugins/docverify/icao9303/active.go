package icao9303

import (
	"errors"
	"math/big"

	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303/aa"
	"github.com/segl/segl/plugins/docverify/icao9303/cms"
	"github.com/segl/segl/plugins/docverify/icao9303/pki"
)

// active checks the chip's signature over the challenge with DG15's key,
// trusted only when the SOD vouched for DG15 (and, for an EC key, for
// DG14, which names the hash).
func (r *report) active(d docverify.Document, _ *cms.LDSSecurityObject) {
	if len(d.AAChallenge) == 0 {
		r.skipped(CheckAA, "no challenge was given")
		return
	}
	if len(d.AASignature) == 0 {
		r.failed(CheckAA, "the chip's signature over the challenge is missing")
		return
	}
	authenticated := func(n int) bool { res, _ := r.result(CheckDG(n)); return res == docverify.OK }
	if _, ok := d.DataGroups[15]; !ok {
		r.failed(CheckAA, "DG15 (the chip's public key) is not supplied")
		return
	}
	if !authenticated(15) {
		r.failed(CheckAA, "DG15 is not authenticated by the SOD: its key proves nothing")
		return
	}
	key, err := aa.ParseDG15(d.DataGroups[15])
	if err != nil {
		r.failed(CheckAA, "%v", err)
		return
	}
	if key.RSA != nil {
		err = aa.VerifyRSA(key.RSA, d.AAChallenge, d.AASignature)
	} else {
		err = r.activeEC(d, key)
	}
	if err != nil {
		r.failed(CheckAA, "%v", err)
		return
	}
	r.ok(CheckAA)
	r.v.ActiveAuthenticated = true
}

func (r *report) activeEC(d docverify.Document, key *aa.PublicKey) error {
	dg14, ok := d.DataGroups[14]
	if !ok {
		return errors.New("an EC key needs DG14, whose ActiveAuthenticationInfo names the hash; it is not supplied")
	}
	if res, _ := r.result(CheckDG(14)); res != docverify.OK {
		return errors.New("DG14 is not authenticated by the SOD")
	}
	info, err := aa.ParseDG14AAInfo(dg14)
	if err != nil {
		return err
	}
	_, pub, err := pki.ParseSubjectPublicKeyInfo(key.SPKI)
	if err != nil {
		return err
	}
	ec, ok := pub.(*pki.ECPublicKey)
	if !ok {
		return errors.New("DG15's key is neither RSA nor EC")
	}
	return aa.VerifyECDSAPlain(ecVerifier{ec}, info.Hash, d.AAChallenge, d.AASignature)
}

// ecVerifier is pki's ECDSA as aa wants it: plain r ‖ s over a digest.
type ecVerifier struct{ k *pki.ECPublicKey }

func (v ecVerifier) VerifyPlain(digest, rs []byte) error {
	n := v.k.Curve.ByteLen()
	if len(rs) != 2*n {
		return errors.New("the signature is not r ‖ s of the curve's size")
	}
	if !pki.VerifyECDSA(v.k, digest, new(big.Int).SetBytes(rs[:n]), new(big.Int).SetBytes(rs[n:])) {
		return errors.New("the chip's ECDSA signature does not verify")
	}
	return nil
}
