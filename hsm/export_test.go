package hsm

import (
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// Seams for the external tests, each restored when the test ends.

func SetLoginUser(t testing.TB, fn func(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, pin string) error) {
	old := loginUser
	loginUser = fn
	t.Cleanup(func() { loginUser = old })
}

// RealLoginUser is the login the package uses, for fakes that count calls
// and then log in for real.
func RealLoginUser(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, pin string) error {
	return ctx.Login(s, pkcs11.CKU_USER, pin)
}

func SetInUse(t testing.TB, fn func()) {
	inUse = fn
	t.Cleanup(func() { inUse = nil })
}

func SetMadeToWrap(t testing.TB, fn func(p *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle)) {
	madeToWrap = fn
	t.Cleanup(func() { madeToWrap = nil })
}

func SetConfigureCrypto11(t testing.TB, fn func(*crypto11.Config) (*crypto11.Context, error)) {
	old := configureCrypto11
	configureCrypto11 = fn
	t.Cleanup(func() { configureCrypto11 = old })
}

// Epoch is the number of the current connection.
func (ks *Keystore) Epoch() uint64 {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.epoch
}

// ForceWrapMechanism makes the Keystore wrap with mech, as it would on a
// module that lacks CKM_AES_KEY_WRAP_PAD.
func (ks *Keystore) ForceWrapMechanism(mech uint) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.cur.wrap = mech
}
