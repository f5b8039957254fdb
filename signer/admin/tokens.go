package admin

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/pskc"
	"github.com/segl/segl/tokens/yubico"
)

// SecretImporter wraps a secret under the KEK inside the HSM
// (*hsm.Keystore).
type SecretImporter interface {
	ImportSecret(kekLabel string, secret []byte) (*hsm.WrappedKey, error)
	ImportAESKey(kekLabel string, key []byte) (*hsm.WrappedKey, error)
	ImportSealed(kekLabel string, t hsm.Transport, values []hsm.Sealed) ([]*hsm.WrappedKey, error)
	WrappedHMAC(w *hsm.WrappedKey) (*hsm.HMACKey, error)
}

// TokenView is an OTP token as the admin API shows it: never its seed.
type TokenView struct {
	Serial       string          `json:"serial"`
	Kind         store.TokenKind `json:"kind"`
	Hash         string          `json:"hash,omitempty"`
	Digits       int             `json:"digits,omitempty"`
	PublicID     string          `json:"publicId,omitempty"`
	Step         int64           `json:"step,omitempty"`
	UserID       string          `json:"userId,omitempty"`
	Counter      int64           `json:"counter"`
	Failures     int             `json:"failures"`
	Blocked      bool            `json:"blocked"`
	BlockedUntil string          `json:"blockedUntil,omitempty"`
	Created      time.Time       `json:"created"`
}

func (s *Service) tokenView(t *store.OTPToken) TokenView {
	v := TokenView{Serial: t.Serial, Kind: t.Kind, Hash: t.Hash, Digits: t.Digits, Step: t.Step, UserID: t.User, Counter: t.Counter,
		Failures: t.Failures, Created: t.Created, PublicID: t.PublicID}
	if t.Blocked(s.now()) {
		v.Blocked, v.BlockedUntil = true, t.BlockedUntil.UTC().Format(time.RFC3339)
	}
	return v
}

// TokenImport is a PSKC batch and, for a sealed one, what opens it: the
// pre-shared key (raw bytes or hex text) or the PBKDF2 password.
type TokenImport struct {
	File         []byte
	PreSharedKey []byte
	Password     []byte
}

// Zero overwrites the key and the password.
func (in *TokenImport) Zero() {
	clear(in.PreSharedKey)
	clear(in.Password)
}

// ImportTokens imports a PSKC batch, all or nothing: every seed is brought
// into the HSM and wrapped first (a sealed seed only after every MAC in the
// file has been checked there), then every token is stored in one
// transaction.
func (s *Service) ImportTokens(ctx context.Context, by string, in TokenImport) ([]TokenView, error) {
	if s.Tokens == nil {
		return nil, errors.New("no HSM importer configured")
	}
	batch, err := pskc.Parse(bytes.NewReader(in.File))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", orders.ErrInvalid, err)
	}
	defer batch.Zero()
	seeds, err := batch.Import(s.Tokens, s.KEK, in.PreSharedKey, in.Password)
	if errors.Is(err, pskc.ErrRefused) {
		return nil, fmt.Errorf("%w: %v", orders.ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	var rows []*store.OTPToken
	for i, t := range batch.Tokens {
		blob, err := seeds[i].MarshalBinary()
		if err != nil {
			return nil, err
		}
		row := &store.OTPToken{Serial: t.Serial, Kind: store.TokenKind(t.Kind), Hash: string(t.Hash), Digits: t.Digits, Seed: blob, Created: now}
		if t.Kind == otp.KindTOTP {
			row.Step, row.Counter = t.Step, -1
		} else {
			row.Counter = int64(t.Counter)
		}
		rows = append(rows, row)
	}
	return s.storeTokens(ctx, by, now, rows)
}

// ImportYubicoKeys imports a Yubico CSV of programmed keys, all or
// nothing: every AES key is wrapped in the HSM first, then every token is
// stored in one transaction.
func (s *Service) ImportYubicoKeys(ctx context.Context, by string, file []byte) ([]TokenView, error) {
	if s.Tokens == nil {
		return nil, errors.New("no HSM importer configured")
	}
	batch, err := yubico.ParseCSV(bytes.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", orders.ErrInvalid, err)
	}
	defer batch.Zero()
	now := s.now()
	var rows []*store.OTPToken
	for _, k := range batch.Keys {
		w, err := s.Tokens.ImportAESKey(s.KEK, k.AESKey())
		if err != nil {
			return nil, fmt.Errorf("line %d (serial %s): wrap the AES key: %w", k.Line, k.Serial, err)
		}
		blob, err := w.MarshalBinary()
		if err != nil {
			return nil, err
		}
		rows = append(rows, &store.OTPToken{Serial: k.Serial, Kind: store.TokenYubico, Seed: blob, Counter: -1, Created: now,
			PublicID: k.PublicID, PrivateID: hex.EncodeToString(k.PrivateID)})
	}
	return s.storeTokens(ctx, by, now, rows)
}

// storeTokens stores a batch in one transaction with its audit record.
func (s *Service) storeTokens(ctx context.Context, by string, now time.Time, rows []*store.OTPToken) ([]TokenView, error) {
	views := []TokenView{}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		for _, r := range rows {
			if err := tx.CreateOTPToken(r); err != nil {
				if errors.Is(err, store.ErrExists) {
					return fmt.Errorf("%w: serial %s is imported already; nothing from this file was imported", orders.ErrInvalid, r.Serial)
				}
				return err
			}
			views = append(views, s.tokenView(r))
		}
		_, err := tx.Audit(audit.Record{Time: now, Event: audit.AdminTokensImported, Actor: officer(by), Outcome: "ok",
			Details: map[string]string{"count": fmt.Sprint(len(rows)), "first": rows[0].Serial, "last": rows[len(rows)-1].Serial}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return views, nil
}

// OTPTokens lists tokens, of one user or all.
func (s *Service) OTPTokens(ctx context.Context, user string) ([]TokenView, error) {
	views := []TokenView{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		ts, err := r.OTPTokens(user)
		for _, t := range ts {
			views = append(views, s.tokenView(t))
		}
		return err
	})
	return views, err
}

// OTPToken shows one token.
func (s *Service) OTPToken(ctx context.Context, serial string) (*TokenView, error) {
	var v TokenView
	err := s.Store.View(ctx, func(r store.Reader) error {
		t, err := r.OTPToken(serial)
		if err != nil {
			return err
		}
		v = s.tokenView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// TokenChange is one officer action on a token.
type TokenChange struct {
	Action string `json:"action"` // assign, unassign, unblock, resync, delete
	UserID string `json:"userId,omitempty"`
	OTP1   string `json:"otp1,omitempty"`
	OTP2   string `json:"otp2,omitempty"`
}

// ChangeToken carries out an officer's action on a token.
func (s *Service) ChangeToken(ctx context.Context, by, serial string, ch *TokenChange) (*TokenView, error) {
	now := s.now()
	var resyncTo int64 = -1
	if ch.Action == "resync" {
		var t *store.OTPToken
		if err := s.Store.View(ctx, func(r store.Reader) (err error) { t, err = r.OTPToken(serial); return err }); err != nil {
			return nil, err
		}
		if t.Kind != store.TokenHOTP {
			return nil, fmt.Errorf("%w: only HOTP tokens resynchronise; a TOTP token's drift is learnt as it is used, and a YubiKey's counters are in its OTPs", orders.ErrInvalid)
		}
		w, err := hsm.ParseWrappedKey(t.Seed)
		if err != nil {
			return nil, err
		}
		seed, err := s.Tokens.WrappedHMAC(w)
		if err != nil {
			return nil, err
		}
		c, ok, err := s.OTPPolicy.Resync(seed, otp.Hash(t.Hash), t.Digits, uint64(t.Counter), ch.OTP1, ch.OTP2)
		if err != nil && !errors.Is(err, otp.ErrFormat) {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: the two codes are not consecutive codes of this token within %d presses", orders.ErrInvalid, s.OTPPolicy.ResyncWindow)
		}
		resyncTo = int64(c)
	}
	var view TokenView
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		t, err := tx.OTPToken(serial)
		if err != nil {
			return err
		}
		details := map[string]string{}
		switch ch.Action {
		case "assign":
			if _, err := tx.User(ch.UserID); err != nil {
				return err
			}
			t.User, details["user"] = ch.UserID, ch.UserID
		case "unassign":
			details["user"], t.User = t.User, ""
		case "unblock":
			t.Failures, t.BlockedUntil = 0, time.Time{}
		case "resync":
			ok, err := tx.AdvanceOTP(serial, resyncTo, 0)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: those codes are used already", orders.ErrInvalid)
			}
			t.Counter, t.Failures, t.BlockedUntil = resyncTo+1, 0, time.Time{}
			details["counter"] = fmt.Sprint(resyncTo + 1)
		case "delete":
			if err := tx.DeleteOTPToken(serial); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: action %q: use assign, unassign, unblock, resync or delete", orders.ErrInvalid, ch.Action)
		}
		if ch.Action != "delete" {
			if err := tx.UpdateOTPToken(t); err != nil {
				return err
			}
		}
		view = s.tokenView(t)
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.AdminTokenPrefix + ch.Action, Actor: officer(by), Subject: "token:" + serial, Outcome: "ok", Details: details})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &view, nil
}
