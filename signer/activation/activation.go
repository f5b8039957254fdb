// Package activation is sole control over users' signing keys (EN 419 241-1
// "signature activation"): the only path from a user's wrapped key to a
// signature. A key is unwrapped in the HSM only by SignCMS, and SignCMS
// only acts on an Activation that
//
//   - was issued, by the completion of a sign order whose factors passed,
//     for one user, one key and one document digest;
//   - carries an HMAC, computed in the HSM, over exactly those bindings and
//     its expiry (at most MaxLifetime), so an altered one is refused;
//   - has not been spent: spending is a conditional UPDATE in the store,
//     so a replay is refused even by another segld process.
//
// TestOnlyActivationUnwrapsUserKeys checks that no other package in the
// daemon calls hsm.Keystore.WrappedSigner.
package activation

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/cms"
	"github.com/segl/segl/signer/outside"
	"github.com/segl/segl/signer/store"
)

// MaxLifetime bounds an activation's validity.
const MaxLifetime = 5 * time.Minute

var (
	// ErrRefused is returned for an activation that is altered, expired,
	// spent, or presented for another user or key.
	ErrRefused = errors.New("signature activation refused")
)

// MAC computes an HMAC inside the HSM (*hsm.HMACKey).
type MAC interface {
	Sum(h crypto.Hash, msg []byte) ([]byte, error)
}

// Unwrapper turns a wrapped key into a signer inside the HSM
// (*hsm.Keystore).
type Unwrapper interface {
	WrappedSigner(w *hsm.WrappedKey) (*hsm.Signer, error)
}

// Activation is a single-use permission to sign Digest with User's key.
type Activation struct {
	ID      string
	Order   string
	User    string
	KeyID   string // hex SHA-256 of the user's wrapped public key (SPKI DER)
	Digest  []byte // the document's SHA-256
	Expires time.Time
	MAC     []byte
}

// Authority issues and honours activations.
type Authority struct {
	keys  Unwrapper
	mac   MAC
	store store.Store
	clock clock.Clock
	// Observe, if set, is told how long each user signature took in the
	// HSM (unwrap included), for metrics.
	Observe func(op string, start time.Time)
}

// New returns an Authority that unwraps with keys, binds activations with
// mac and reads the time from clk.
func New(keys Unwrapper, mac MAC, st store.Store, clk clock.Clock) *Authority {
	return &Authority{keys: keys, mac: mac, store: st, clock: clk}
}

// KeyID names a wrapped key by its public key.
func KeyID(wrapped []byte) (string, error) {
	w, err := hsm.ParseWrappedKey(wrapped)
	if err != nil {
		return "", err
	}
	if len(w.Public) == 0 {
		return "", errors.New("the wrapped key has no public key: it is not a signing key")
	}
	sum := sha256.Sum256(w.Public)
	return hex.EncodeToString(sum[:]), nil
}

func (a *Authority) bind(act *Activation) ([]byte, error) {
	return a.mac.Sum(crypto.SHA256, bindMessage(act))
}

// bindMessage is what an activation's MAC is over: every field it binds.
func bindMessage(act *Activation) []byte {
	var msg []byte
	for _, s := range []string{"SEGL-ACTIVATION-1", act.ID, act.Order, act.User, act.KeyID, hex.EncodeToString(act.Digest)} {
		msg = append(append(msg, s...), 0)
	}
	return binary.BigEndian.AppendUint64(msg, uint64(act.Expires.UnixNano()))
}

// Issue makes an activation for signing digest with u's key, recorded in
// tx: call it in the transaction that confirms the order's factors. Its
// MAC is made by the HSM outside the transaction (calls; nil makes it
// inside), its ID and expiry the same in every run of it.
func (a *Authority) Issue(tx store.Tx, calls *outside.Calls, order string, u *store.User, digest []byte, lifetime time.Duration) (*Activation, error) {
	if lifetime <= 0 || lifetime > MaxLifetime {
		return nil, fmt.Errorf("activation lifetime %s: must be positive and at most %s", lifetime, MaxLifetime)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("activation: digest is %d bytes, want a SHA-256", len(digest))
	}
	keyID, err := KeyID(u.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", u.ID, err)
	}
	id := outside.Stable(calls, "activation-id\x00"+order, func() string {
		b := make([]byte, 16)
		rand.Read(b) // never fails (crypto/rand)
		return hex.EncodeToString(b)
	})
	now := outside.Stable(calls, "activation-time\x00"+order, a.clock.Now)
	act := &Activation{ID: id, Order: order, User: u.ID, KeyID: keyID,
		Digest: append([]byte(nil), digest...), Expires: now.Add(lifetime).UTC()}
	msg := bindMessage(act)
	act.MAC, err = outside.Do(calls, "activation-mac\x00"+string(msg), func() ([]byte, error) { return a.mac.Sum(crypto.SHA256, msg) })
	if errors.Is(err, outside.ErrWanted) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	err = tx.CreateActivation(&store.Activation{ID: act.ID, Order: order, User: u.ID, KeyID: keyID,
		Digest: act.Digest, Expires: act.Expires, MAC: act.MAC, Created: now})
	return act, err
}

// SignCMS spends act and signs its digest with u's key as a detached CMS
// SignedData with chain (u's certificate first). The spend and the intent
// are recorded (audit "signature.intent") before the key is unwrapped.
func (a *Authority) SignCMS(ctx context.Context, act *Activation, u *store.User, chain []*x509.Certificate, actor string) ([]byte, error) {
	now := a.clock.Now()
	want, err := a.bind(act)
	if err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	if !hmac.Equal(want, act.MAC) {
		return nil, fmt.Errorf("%w: its binding does not verify (altered)", ErrRefused)
	}
	if !now.Before(act.Expires) {
		return nil, fmt.Errorf("%w: expired at %s", ErrRefused, act.Expires.Format(time.RFC3339))
	}
	keyID, err := KeyID(u.SigningKey)
	if err != nil {
		return nil, err
	}
	if u.ID != act.User || keyID != act.KeyID {
		return nil, fmt.Errorf("%w: issued for another user or key", ErrRefused)
	}
	err = a.store.Update(ctx, func(tx store.Tx) error {
		stored, err := tx.Activation(act.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: never issued", ErrRefused)
		}
		if err != nil {
			return err
		}
		if !hmac.Equal(stored.MAC, act.MAC) {
			return fmt.Errorf("%w: does not match the issued activation", ErrRefused)
		}
		ok, err := tx.SpendActivation(act.ID, now)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: already spent", ErrRefused)
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.SignatureIntent, Actor: actor,
			Subject: "order:" + act.Order, Outcome: "ok",
			Details: map[string]string{"user": u.ID, "key": keyID, "digest": hex.EncodeToString(act.Digest), "activation": act.ID}})
		return err
	})
	if err != nil {
		return nil, err
	}
	w, err := hsm.ParseWrappedKey(u.SigningKey)
	if err != nil {
		return nil, err
	}
	key, err := a.keys.WrappedSigner(w)
	if err != nil {
		return nil, fmt.Errorf("unwrap user %s's key: %w", u.ID, err)
	}
	if a.Observe != nil {
		defer a.Observe("user_sign", time.Now())
	}
	return cms.SignDetached(act.Digest, key, chain, now)
}
