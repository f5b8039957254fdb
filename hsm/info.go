package hsm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/miekg/pkcs11"
)

// Mechanism is a PKCS#11 mechanism Segl uses, and what for.
type Mechanism struct {
	ID      uint
	Name    string
	Purpose string
}

// Mechanisms lists what Segl asks of an HSM, for `segl hsm info`.
var Mechanisms = []Mechanism{
	{pkcs11.CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", "ECDSA P-256/P-384 key generation"},
	{pkcs11.CKM_ECDSA, "CKM_ECDSA", "ECDSA signatures (issuer, audit, user keys)"},
	{pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN", "RSA key generation"},
	{pkcs11.CKM_RSA_PKCS, "CKM_RSA_PKCS", "RSA PKCS #1 v1.5 signatures"},
	{pkcs11.CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", "RSA-PSS signatures"},
	{ckmECEdwardsKeyPairGen, "CKM_EC_EDWARDS_KEY_PAIR_GEN", "Ed25519 key generation"},
	{ckmEdDSA, "CKM_EDDSA", "Ed25519 signatures"},
	{pkcs11.CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", "key-encryption key generation"},
	{pkcs11.CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD", "wrapping user keys and seeds (RFC 5649)"},
	{pkcs11.CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", "wrapping where RFC 5649 is missing; unwrapping sealed PSKC seeds"},
	{pkcs11.CKM_AES_CBC, "CKM_AES_CBC", "decrypting sealed PSKC seeds where they cannot be unwrapped"},
	{pkcs11.CKM_AES_ECB, "CKM_AES_ECB", "Yubico OTP decryption"},
	{pkcs11.CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN", "HMAC key and seed generation"},
	{pkcs11.CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC", "HOTP/TOTP with SHA-1"},
	{pkcs11.CKM_SHA256_HMAC, "CKM_SHA256_HMAC", "code cards, dynamic linking, HOTP/TOTP with SHA-256"},
	{pkcs11.CKM_SHA512_HMAC, "CKM_SHA512_HMAC", "HOTP/TOTP with SHA-512"},
}

// TokenInfo is what the module says about itself and the token.
type TokenInfo struct {
	Module       string
	Library      string // manufacturer, description and version of the module
	Cryptoki     string // PKCS#11 version the module implements
	Label        string
	Serial       string
	Manufacturer string
	Model        string
	Flags        uint
	Mechanisms   map[uint]bool
	WrapWith     string // the mechanism wrapped keys are made with
	SealedImport string // how encrypted PSKC seeds enter the HSM
}

// PINLocked, PINCountLow and PINFinalTry decode the token's flags.
func (t *TokenInfo) PINLocked() bool   { return t.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 }
func (t *TokenInfo) PINCountLow() bool { return t.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0 }
func (t *TokenInfo) PINFinalTry() bool { return t.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0 }

// Probe reads the module's and the token's description without logging in.
func Probe(module, token string) (*TokenInfo, error) {
	op := fmt.Sprintf("probe token %q", token)
	var info *TokenInfo
	err := withModule(module, func(p *pkcs11.Ctx) error {
		slot, _, err := findToken(p, module, token)
		if err != nil {
			return err
		}
		info, err = tokenInfo(p, slot, module)
		return err
	})
	if err != nil {
		return nil, &Error{Op: op, Kind: errKind(err), Err: err}
	}
	return info, nil
}

func tokenInfo(p *pkcs11.Ctx, slot uint, module string) (*TokenInfo, error) {
	li, err := p.GetInfo()
	if err != nil {
		return nil, err
	}
	ti, err := p.GetTokenInfo(slot)
	if err != nil {
		return nil, err
	}
	mechs, err := mechanisms(p, slot)
	if err != nil {
		return nil, err
	}
	info := &TokenInfo{
		Module:       module,
		Library:      fmt.Sprintf("%s %s %d.%d", strings.TrimSpace(li.ManufacturerID), strings.TrimSpace(li.LibraryDescription), li.LibraryVersion.Major, li.LibraryVersion.Minor),
		Cryptoki:     fmt.Sprintf("%d.%d", li.CryptokiVersion.Major, li.CryptokiVersion.Minor),
		Label:        ti.Label,
		Serial:       ti.SerialNumber,
		Manufacturer: ti.ManufacturerID,
		Model:        ti.Model,
		Flags:        ti.Flags,
		Mechanisms:   mechs,
	}
	switch {
	case mechs[pkcs11.CKM_AES_KEY_WRAP_PAD]:
		info.WrapWith = "CKM_AES_KEY_WRAP_PAD"
	case mechs[pkcs11.CKM_AES_CBC_PAD]:
		info.WrapWith = "CKM_AES_CBC_PAD"
	default:
		info.WrapWith = "none: wrapped keys cannot be made"
	}
	info.SealedImport = transportRoute(canUnwrapCBC(p, slot))
	return info, nil
}

// Info describes the Keystore's module and token.
func (ks *Keystore) Info() (*TokenInfo, error) {
	var info *TokenInfo
	err := ks.use("read token info", func(c *conn) error {
		var err error
		info, err = tokenInfo(c.p11, c.slot, ks.cfg.Module)
		return err
	})
	return info, err
}

// withModule loads the module for a short task outside any Keystore and
// finalizes it afterwards, unless it was already initialized in this
// process (by a Keystore), which it then leaves alone.
func withModule(module string, fn func(p *pkcs11.Ctx) error) error {
	if _, err := os.Stat(module); err != nil {
		return fmt.Errorf("%w: %v (set %s to the PKCS#11 library's path)", ErrModule, err, EnvModule)
	}
	p := pkcs11.New(module)
	if p == nil {
		return fmt.Errorf("%w: %s is not a PKCS#11 library", ErrModule, module)
	}
	defer p.Destroy()
	err := p.Initialize()
	switch {
	case err == nil:
		defer p.Finalize()
	case isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
	default:
		return fmt.Errorf("%w: %v", ErrModule, err)
	}
	return fn(p)
}

// InitToken initialises the module's free token with the label, sets the
// security officer's PIN and the user's PIN. SoftHSM always offers one free
// token; hardware HSMs are usually initialised with their vendor's tools.
//
// This exists so that no PIN ever goes on a command line: softhsm2-util
// takes PINs only as arguments or from a terminal.
func InitToken(module, label string, soPIN, userPIN PIN) error {
	op := fmt.Sprintf("initialise token %q", label)
	switch {
	case label == "" || len(label) > 32 || !utf8.ValidString(label) || strings.TrimSpace(label) != label:
		return &Error{Op: op, Kind: ErrBadInput, Err: errors.New("a token label is 1 to 32 bytes of UTF-8 without leading or trailing spaces")}
	case soPIN == "":
		return &Error{Op: op, Kind: ErrPINEmpty, Err: fmt.Errorf("the security officer's PIN is needed (%s)", EnvSOPINFile)}
	case userPIN == "":
		return &Error{Op: op, Kind: ErrPINEmpty, Err: fmt.Errorf("the user PIN is needed (%s)", EnvPINFile)}
	}
	err := withModule(module, func(p *pkcs11.Ctx) error {
		if _, _, err := findToken(p, module, label); err == nil {
			return fmt.Errorf("%w: a token labelled %q is already initialized", ErrLabelExists, label)
		} else if !errors.Is(err, ErrTokenNotFound) {
			return err
		}
		free, err := freeSlot(p)
		if err != nil {
			return err
		}
		if err := p.InitToken(free, string(soPIN), label); err != nil {
			return err
		}
		// SoftHSM moves a token to a new slot number when it is
		// initialised: find it again by label.
		slot, _, err := findToken(p, module, label)
		if err != nil {
			return err
		}
		s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return err
		}
		defer p.CloseSession(s)
		if err := p.Login(s, pkcs11.CKU_SO, string(soPIN)); err != nil {
			return err
		}
		defer p.Logout(s)
		return p.InitPIN(s, string(userPIN))
	})
	if err != nil {
		return &Error{Op: op, Kind: errKind(err), Err: err}
	}
	return nil
}

func freeSlot(p *pkcs11.Ctx) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: the module offers no uninitialised token", ErrTokenNotFound)
}
