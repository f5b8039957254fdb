package daemon

import (
	"crypto"
	"io"
	"time"
)

// observeHSM records an HSM operation's latency in the API's metrics.
func (d *Daemon) observeHSM(op string, start time.Time) {
	if d.api != nil {
		d.api.ObserveHSM(op, start)
	}
}

// timedSigner times each signature a token key makes.
type timedSigner struct {
	crypto.Signer
	op      string
	observe func(string, time.Time)
}

func (s timedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	defer s.observe(s.op, time.Now())
	return s.Signer.Sign(r, digest, opts)
}

// mac is an HMAC key in the HSM.
type mac interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

// timedMAC times each HMAC.
type timedMAC struct {
	mac
	op      string
	observe func(string, time.Time)
}

func (m timedMAC) Sum(h crypto.Hash, msg []byte) ([]byte, error) {
	defer m.observe(m.op, time.Now())
	return m.mac.Sum(h, msg)
}
