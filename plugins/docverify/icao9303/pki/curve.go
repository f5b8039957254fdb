package pki

import (
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// Curve is a short-Weierstrass curve y² = x³ + ax + b over the prime
// field GF(P), with a base point G = (Gx, Gy) of prime order N and the
// cofactor H. The curves this package returns are shared: do not modify
// them.
type Curve struct {
	Name string
	// OID is the curve's namedCurve object identifier.
	OID             asn1.ObjectIdentifier
	P, A, B, Gx, Gy *big.Int
	N               *big.Int
	H               int
	byteLen         int            // bytes of a field element
	std             elliptic.Curve // the standard library's curve, for the NIST ones
}

// ByteLen is the length in bytes of a field element, the length of each
// coordinate in an encoded point.
func (c *Curve) ByteLen() int { return c.byteLen }

func (c *Curve) String() string { return c.Name }

// The curves' OIDs (RFC 5480, RFC 5639).
var (
	oidP224            = asn1.ObjectIdentifier{1, 3, 132, 0, 33}
	oidP256            = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384            = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521            = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidBrainpoolP224r1 = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 5}
	oidBrainpoolP256r1 = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}
	oidBrainpoolP320r1 = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 9}
	oidBrainpoolP384r1 = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}
	oidBrainpoolP512r1 = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}
)

var (
	p224, p256, p384, p521 = nistCurve(elliptic.P224(), oidP224), nistCurve(elliptic.P256(), oidP256),
		nistCurve(elliptic.P384(), oidP384), nistCurve(elliptic.P521(), oidP521)

	// RFC 5639, section 3. The tests check that each G is on its curve,
	// that N·G is the point at infinity, that P and N are prime, and that
	// OpenSSL's explicit encoding of each curve maps to it.
	brainpoolP224r1 = hexCurve("brainpoolP224r1", oidBrainpoolP224r1,
		"D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF",
		"68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43",
		"2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B",
		"0D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D",
		"58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD",
		"D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F")
	brainpoolP256r1 = hexCurve("brainpoolP256r1", oidBrainpoolP256r1,
		"A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
		"7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
		"26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
		"8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
		"547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
		"A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7")
	brainpoolP320r1 = hexCurve("brainpoolP320r1", oidBrainpoolP320r1,
		"D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27",
		"3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4",
		"520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6",
		"43BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E20611",
		"14FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1",
		"D35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311")
	brainpoolP384r1 = hexCurve("brainpoolP384r1", oidBrainpoolP384r1,
		"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53",
		"7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826",
		"04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11",
		"1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E",
		"8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315",
		"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565")
	brainpoolP512r1 = hexCurve("brainpoolP512r1", oidBrainpoolP512r1,
		"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
		"7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
		"3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
		"81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822",
		"7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892",
		"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069")

	namedCurves = []*Curve{p224, p256, p384, p521,
		brainpoolP224r1, brainpoolP256r1, brainpoolP320r1, brainpoolP384r1, brainpoolP512r1}
)

func nistCurve(std elliptic.Curve, oid asn1.ObjectIdentifier) *Curve {
	p := std.Params()
	return &Curve{
		Name: p.Name, OID: oid,
		P: p.P, A: new(big.Int).Sub(p.P, big.NewInt(3)), B: p.B,
		Gx: p.Gx, Gy: p.Gy, N: p.N, H: 1,
		byteLen: (p.BitSize + 7) / 8, std: std,
	}
}

func hexCurve(name string, oid asn1.ObjectIdentifier, p, a, b, gx, gy, n string) *Curve {
	c := &Curve{Name: name, OID: oid,
		P: mustHex(p), A: mustHex(a), B: mustHex(b),
		Gx: mustHex(gx), Gy: mustHex(gy), N: mustHex(n), H: 1}
	c.byteLen = (c.P.BitLen() + 7) / 8
	return c
}

func mustHex(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("pki: bad curve constant " + s)
	}
	return v
}

// NamedCurves returns the curves this package knows.
func NamedCurves() []*Curve { return append([]*Curve(nil), namedCurves...) }

// CurveByOID returns the named curve with that namedCurve OID.
func CurveByOID(oid asn1.ObjectIdentifier) (*Curve, bool) {
	for _, c := range namedCurves {
		if c.OID.Equal(oid) {
			return c, true
		}
	}
	return nil, false
}

// CurveByName returns the named curve called name ("P-256",
// "brainpoolP384r1", …).
func CurveByName(name string) (*Curve, bool) {
	for _, c := range namedCurves {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// CurveFromParameters returns the named curve that explicit domain
// parameters describe: the same field, coefficients, base point (base
// is an encoded point, compressed or not), order and cofactor (cofactor
// nil when the parameters leave it out). Parameters of any other curve
// are refused with ErrUnknownCurve (see the package documentation).
func CurveFromParameters(p, a, b *big.Int, base []byte, n, cofactor *big.Int) (*Curve, error) {
	for _, c := range namedCurves {
		if c.P.Cmp(p) != 0 {
			continue
		}
		switch {
		case c.A.Cmp(a) != 0 || c.B.Cmp(b) != 0:
			return nil, fmt.Errorf("%w: the field of %s with other coefficients", ErrUnknownCurve, c.Name)
		case c.N.Cmp(n) != 0:
			return nil, fmt.Errorf("%w: %s with another order", ErrUnknownCurve, c.Name)
		case cofactor != nil && (!cofactor.IsInt64() || cofactor.Int64() != int64(c.H)):
			return nil, fmt.Errorf("%w: %s with another cofactor", ErrUnknownCurve, c.Name)
		}
		gx, gy, err := c.DecodePoint(base)
		if err != nil {
			return nil, fmt.Errorf("%w: %s with a base point that is not on it", ErrUnknownCurve, c.Name)
		}
		if gx.Cmp(c.Gx) != 0 || gy.Cmp(c.Gy) != 0 {
			return nil, fmt.Errorf("%w: %s with another base point", ErrUnknownCurve, c.Name)
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: explicit parameters over a %d-bit field that is no named curve's", ErrUnknownCurve, p.BitLen())
}

// IsOnCurve reports whether (x, y) is a point of the curve: both
// coordinates in [0, P) and y² = x³ + ax + b.
func (c *Curve) IsOnCurve(x, y *big.Int) bool {
	if x == nil || y == nil || x.Sign() < 0 || y.Sign() < 0 || x.Cmp(c.P) >= 0 || y.Cmp(c.P) >= 0 {
		return false
	}
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.P)
	return lhs.Cmp(c.rhs(x)) == 0
}

// rhs is x³ + ax + b mod P.
func (c *Curve) rhs(x *big.Int) *big.Int {
	r := new(big.Int).Mul(x, x)
	r.Add(r, c.A)
	r.Mul(r, x)
	r.Add(r, c.B)
	return r.Mod(r, c.P)
}

// DecodePoint decodes an encoded point (SEC 1, 2.3.4): uncompressed
// 04‖X‖Y or compressed 02‖X / 03‖X, each coordinate ByteLen bytes. It
// refuses the point at infinity (00), the hybrid forms (06, 07),
// coordinates ≥ P and points that are not on the curve, with
// ErrInvalidPoint.
func (c *Curve) DecodePoint(data []byte) (x, y *big.Int, err error) {
	l := c.byteLen
	switch {
	case len(data) == 0:
		return nil, nil, fmt.Errorf("%w: empty", ErrInvalidPoint)
	case len(data) == 1 && data[0] == 0:
		return nil, nil, fmt.Errorf("%w: the point at infinity", ErrInvalidPoint)
	case data[0] == 4 && len(data) == 1+2*l:
		x = new(big.Int).SetBytes(data[1 : 1+l])
		y = new(big.Int).SetBytes(data[1+l:])
		if !c.IsOnCurve(x, y) {
			return nil, nil, fmt.Errorf("%w: not on %s", ErrInvalidPoint, c.Name)
		}
		return x, y, nil
	case (data[0] == 2 || data[0] == 3) && len(data) == 1+l:
		x = new(big.Int).SetBytes(data[1:])
		if x.Cmp(c.P) >= 0 {
			return nil, nil, fmt.Errorf("%w: x not below p", ErrInvalidPoint)
		}
		// P is a known prime (only named curves exist here), which
		// ModSqrt requires.
		y = new(big.Int).ModSqrt(c.rhs(x), c.P)
		if y == nil {
			return nil, nil, fmt.Errorf("%w: no point of %s has this x", ErrInvalidPoint, c.Name)
		}
		if y.Bit(0) != uint(data[0]&1) {
			if y.Sign() == 0 {
				return nil, nil, fmt.Errorf("%w: compressed y = 0 with odd parity", ErrInvalidPoint)
			}
			y.Sub(c.P, y)
		}
		return x, y, nil
	default:
		return nil, nil, fmt.Errorf("%w: %d bytes with prefix %#02x for %s", ErrInvalidPoint, len(data), data[0], c.Name)
	}
}

// EncodePoint returns the uncompressed encoding 04‖X‖Y of a point.
func (c *Curve) EncodePoint(x, y *big.Int) []byte {
	out := make([]byte, 1+2*c.byteLen)
	out[0] = 4
	x.FillBytes(out[1 : 1+c.byteLen])
	y.FillBytes(out[1+c.byteLen:])
	return out
}
