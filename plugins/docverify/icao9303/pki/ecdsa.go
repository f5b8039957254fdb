package pki

import (
	"crypto"
	"crypto/ecdsa"
	"math/big"
)

// ECPublicKey is an EC public key on one of the named curves.
type ECPublicKey struct {
	Curve *Curve
	X, Y  *big.Int
	// Explicit is set when the key's SubjectPublicKeyInfo gave the curve
	// as explicit domain parameters rather than by its OID.
	Explicit bool
}

// Bytes is the key's point, uncompressed.
func (k *ECPublicKey) Bytes() []byte { return k.Curve.EncodePoint(k.X, k.Y) }

// Equal reports whether x is an *ECPublicKey with the same point on the
// same curve (however the curve was written), as the standard library's
// keys do.
func (k *ECPublicKey) Equal(x crypto.PublicKey) bool {
	other, ok := x.(*ECPublicKey)
	return ok && other != nil && k.Curve == other.Curve && k.X.Cmp(other.X) == 0 && k.Y.Cmp(other.Y) == 0
}

// VerifyECDSA reports whether (r, s) is an ECDSA signature of digest
// (SEC 1, 4.1.4) by pub. A digest longer than the order is truncated to
// its leftmost bits as SEC 1 and FIPS 186 say; a shorter one is used
// whole. It is not constant time: keys, signatures and digests are all
// public here.
func VerifyECDSA(pub *ECPublicKey, digest []byte, r, s *big.Int) bool {
	if pub == nil || pub.Curve == nil || !pub.Curve.IsOnCurve(pub.X, pub.Y) || r == nil || s == nil {
		return false
	}
	if c := pub.Curve; c.std != nil {
		std, err := ecdsa.ParseUncompressedPublicKey(c.std, c.EncodePoint(pub.X, pub.Y))
		if err != nil {
			return false
		}
		return ecdsa.Verify(std, digest, r, s)
	}
	return verifyGeneric(pub, digest, r, s)
}

// verifyGeneric is ECDSA verification for any curve of this package.
func verifyGeneric(pub *ECPublicKey, digest []byte, r, s *big.Int) bool {
	c := pub.Curve
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(c.N) >= 0 || s.Cmp(c.N) >= 0 {
		return false
	}
	if !c.IsOnCurve(pub.X, pub.Y) {
		return false
	}
	e := hashToInt(digest, c.N)
	w := new(big.Int).ModInverse(s, c.N)
	if w == nil {
		return false
	}
	u1 := e.Mul(e, w)
	u1.Mod(u1, c.N)
	u2 := w.Mul(r, w)
	u2.Mod(u2, c.N)
	x, _, ok := c.combinedMult(u1, u2, pub.X, pub.Y)
	if !ok {
		return false
	}
	return x.Mod(x, c.N).Cmp(r) == 0
}

// hashToInt converts a digest to an integer, keeping its leftmost
// bitlen(N) bits (SEC 1, 4.1.4 step 3; FIPS 186-5, 6.4.2).
func hashToInt(digest []byte, n *big.Int) *big.Int {
	orderBits := n.BitLen()
	orderBytes := (orderBits + 7) / 8
	if len(digest) > orderBytes {
		digest = digest[:orderBytes]
	}
	e := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - orderBits; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// The point arithmetic below is plain math/big in Jacobian coordinates
// with general a, written to reuse its temporaries: it is not constant
// time, which verification of public data does not need.

// jacobian is a point (X/Z², Y/Z³); Z = 0 is the point at infinity.
type jacobian struct{ x, y, z big.Int }

// arith holds a curve's modulus and the temporaries of its operations;
// one goroutine uses one arith.
type arith struct {
	p, a *big.Int
	// The temporaries: math/big allocates when a product's destination
	// is one of its operands, so none of them is.
	quo, prod big.Int
	t         [10]big.Int
}

func newArith(c *Curve) *arith { return &arith{p: c.P, a: c.A} }

// red reduces z into [0, p). (Barrett reduction was tried: with
// math/big it is no faster than division.)
func (e *arith) red(z *big.Int) {
	e.quo.QuoRem(z, e.p, z)
	if z.Sign() < 0 {
		z.Add(z, e.p)
	}
}

// mul sets z to x·y mod p; z may be x or y.
func (e *arith) mul(z, x, y *big.Int) {
	e.prod.Mul(x, y)
	e.red(&e.prod)
	z.Set(&e.prod)
}

// double sets p to 2p ("dbl-2007-bl", without the a = −3 shortcut).
func (e *arith) double(p *jacobian) {
	if p.z.Sign() == 0 || p.y.Sign() == 0 {
		p.z.SetInt64(0)
		return
	}
	xx, yy, yyyy, zz, s, m, t := &e.t[0], &e.t[1], &e.t[2], &e.t[3], &e.t[4], &e.t[5], &e.t[6]
	e.mul(xx, &p.x, &p.x)
	e.mul(yy, &p.y, &p.y)
	e.mul(yyyy, yy, yy)
	e.mul(zz, &p.z, &p.z)
	// S = 4·X·YY
	e.mul(s, &p.x, yy)
	s.Lsh(s, 2)
	e.red(s)
	// M = 3·XX + a·ZZ²
	e.mul(t, zz, zz)
	m.Mul(t, e.a)
	t.Lsh(xx, 1)
	t.Add(t, xx)
	m.Add(m, t)
	e.red(m)
	// Z3 = 2·Y·Z
	e.mul(&p.z, &p.y, &p.z)
	p.z.Lsh(&p.z, 1)
	e.red(&p.z)
	// X3 = M² − 2S
	p.x.Mul(m, m)
	t.Lsh(s, 1)
	p.x.Sub(&p.x, t)
	e.red(&p.x)
	// Y3 = M·(S − X3) − 8·YYYY
	t.Sub(s, &p.x)
	p.y.Mul(t, m)
	t.Lsh(yyyy, 3)
	p.y.Sub(&p.y, t)
	e.red(&p.y)
}

// addAffine sets p to p + (qx, qy), q an affine point of the curve
// ("madd-2007-bl").
func (e *arith) addAffine(p *jacobian, qx, qy *big.Int) {
	if p.z.Sign() == 0 {
		p.x.Set(qx)
		p.y.Set(qy)
		p.z.SetInt64(1)
		return
	}
	z1z1, u2, s2, h, r, hh, hhh, v, t := &e.t[0], &e.t[1], &e.t[2], &e.t[3], &e.t[4], &e.t[5], &e.t[6], &e.t[7], &e.t[8]
	e.mul(z1z1, &p.z, &p.z)
	e.mul(u2, qx, z1z1)
	e.mul(s2, qy, &p.z)
	e.mul(s2, s2, z1z1)
	h.Sub(u2, &p.x)
	e.red(h)
	r.Sub(s2, &p.y)
	e.red(r)
	if h.Sign() == 0 {
		if r.Sign() == 0 {
			e.double(p)
			return
		}
		p.z.SetInt64(0)
		return
	}
	e.mul(hh, h, h)
	e.mul(hhh, h, hh)
	e.mul(v, &p.x, hh)
	// Z3 = Z1·H
	e.mul(&p.z, &p.z, h)
	// X3 = R² − HHH − 2V
	p.x.Mul(r, r)
	p.x.Sub(&p.x, hhh)
	t.Lsh(v, 1)
	p.x.Sub(&p.x, t)
	e.red(&p.x)
	// Y3 = R·(V − X3) − Y1·HHH
	t.Sub(v, &p.x)
	e.mul(t, t, r)
	e.mul(hh, &p.y, hhh)
	p.y.Sub(t, hh)
	e.red(&p.y)
}

// affine converts p; ok is false for the point at infinity.
func (e *arith) affine(p *jacobian) (x, y *big.Int, ok bool) {
	if p.z.Sign() == 0 {
		return nil, nil, false
	}
	zinv := new(big.Int).ModInverse(&p.z, e.p)
	zinv2 := new(big.Int)
	e.mul(zinv2, zinv, zinv)
	x, y = new(big.Int), new(big.Int)
	e.mul(x, &p.x, zinv2)
	e.mul(y, &p.y, zinv2)
	e.mul(y, y, zinv)
	return x, y, true
}

// scalarMult returns k·(x, y); ok is false for the point at infinity.
func (c *Curve) scalarMult(x, y, k *big.Int) (rx, ry *big.Int, ok bool) {
	e := newArith(c)
	var acc jacobian
	for i := k.BitLen() - 1; i >= 0; i-- {
		e.double(&acc)
		if k.Bit(i) == 1 {
			e.addAffine(&acc, x, y)
		}
	}
	return e.affine(&acc)
}

// combinedMult returns u1·G + u2·(qx, qy) by Shamir's trick; ok is false
// for the point at infinity.
func (c *Curve) combinedMult(u1, u2, qx, qy *big.Int) (x, y *big.Int, ok bool) {
	e := newArith(c)
	type point struct {
		x, y *big.Int
		ok   bool
	}
	var table [4]point // index bit(u1) + 2·bit(u2)
	table[1] = point{c.Gx, c.Gy, true}
	table[2] = point{qx, qy, true}
	var sum jacobian
	e.addAffine(&sum, c.Gx, c.Gy)
	e.addAffine(&sum, qx, qy)
	sx, sy, sok := e.affine(&sum)
	table[3] = point{sx, sy, sok}
	var acc jacobian
	for i := max(u1.BitLen(), u2.BitLen()) - 1; i >= 0; i-- {
		e.double(&acc)
		if t := table[u1.Bit(i)+2*u2.Bit(i)]; t.ok {
			e.addAffine(&acc, t.x, t.y)
		}
	}
	return e.affine(&acc)
}
