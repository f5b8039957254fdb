package hsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
	"github.com/thales-e-security/pool"
)

// Sentinel errors. Every error the package returns for a failed HSM operation
// is an [*Error] whose Kind is one of these (or nil when the module's return
// value has no better name), so callers test with errors.Is.
var (
	// ErrKeyNotFound: no private or secret key has the label (or ID).
	ErrKeyNotFound = errors.New("key not found")
	// ErrDataNotFound: no token data object has the label.
	ErrDataNotFound = errors.New("data object not found")
	// ErrAmbiguousKey: more than one object matches a lookup; the package
	// never guesses which one was meant.
	ErrAmbiguousKey = errors.New("more than one key matches")
	// ErrLabelExists: generating or importing a key under a label that an
	// object on the token already has.
	ErrLabelExists = errors.New("an object with this label already exists")
	// ErrWrongKeyType: the key exists but cannot do what was asked (HMAC with
	// an ECDSA key, PSS with an ECDSA key, …).
	ErrWrongKeyType = errors.New("key type does not support this operation")
	// ErrPINEmpty: no PIN was configured. Refused before C_Login so that an
	// empty PIN never counts as a failed attempt on the token.
	ErrPINEmpty = errors.New("PIN is empty")
	// ErrPINIncorrect: the token refused the PIN (CKR_PIN_INCORRECT). The
	// package never retries a refused PIN.
	ErrPINIncorrect = errors.New("PIN incorrect")
	// ErrPINLocked: the token has locked the PIN (CKR_PIN_LOCKED, or the
	// token reports CKF_USER_PIN_LOCKED); the security officer must unlock it.
	ErrPINLocked = errors.New("PIN locked")
	// ErrTokenNotFound: no initialized token has the configured label.
	ErrTokenNotFound = errors.New("token not found")
	// ErrAmbiguousToken: more than one token has the configured label.
	ErrAmbiguousToken = errors.New("more than one token has this label")
	// ErrModule: the PKCS#11 module could not be loaded or initialized.
	ErrModule = errors.New("cannot load PKCS#11 module")
	// ErrMechanismUnsupported: the module lacks a mechanism the operation
	// needs (CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID).
	ErrMechanismUnsupported = errors.New("mechanism not supported by the HSM")
	// ErrAttributeSensitive: the module refused to reveal a sensitive
	// attribute such as CKA_VALUE (CKR_ATTRIBUTE_SENSITIVE).
	ErrAttributeSensitive = errors.New("attribute is sensitive")
	// ErrKeyNotWrappable: the key may not be wrapped (CKR_KEY_UNEXTRACTABLE,
	// CKR_KEY_NOT_WRAPPABLE).
	ErrKeyNotWrappable = errors.New("key may not be wrapped")
	// ErrUnwrapFailed: a wrapped blob did not unwrap: wrong KEK, corrupted or
	// truncated ciphertext. SoftHSM says only CKR_GENERAL_ERROR here.
	ErrUnwrapFailed = errors.New("wrapped key did not unwrap (wrong KEK or corrupted blob)")
	// ErrBadWrappedKey: a wrapped-key blob is malformed and was not sent to
	// the HSM at all.
	ErrBadWrappedKey = errors.New("malformed wrapped key")
	// ErrNotTrusted: a key-encryption key lacks CKA_TRUSTED, so it cannot wrap
	// keys marked CKA_WRAP_WITH_TRUSTED.
	ErrNotTrusted = errors.New("key-encryption key is not trusted")
	// ErrBusy: every session is in use and none came free within
	// Config.SessionWait.
	ErrBusy = errors.New("all HSM sessions busy")
	// ErrSessionLost: the HSM dropped the session, the login or the module
	// state under a call (sessions closed from outside, logout, module
	// re-initialised, device removed). The Keystore reconnects; retry.
	ErrSessionLost = errors.New("HSM session lost; reconnecting, retry the operation")
	// ErrUnavailable: the Keystore could not reconnect, or is waiting before
	// the next attempt.
	ErrUnavailable = errors.New("HSM unavailable")
	// ErrClosed: the Keystore was closed.
	ErrClosed = errors.New("keystore closed")
	// ErrBadInput: the caller passed something the operation cannot take
	// (a digest of the wrong length, an unknown hash, …).
	ErrBadInput = errors.New("invalid input")
)

// Error is a failed HSM operation: what was attempted, what it means
// (Kind, one of the sentinels), and the underlying cause, usually the
// module's pkcs11.Error.
type Error struct {
	Op   string // e.g. `sign with "issuer-ca"`, "login"
	Kind error  // a sentinel of this package, or nil
	Err  error  // the cause: a pkcs11.Error, a crypto11 error, …
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hsm: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	switch {
	case e.Kind != nil && e.Err != nil:
		fmt.Fprintf(&b, "%v (%v)", e.Kind, e.Err)
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see both the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Code returns the PKCS#11 return value behind err, if there is one.
func Code(err error) (uint, bool) {
	var p11 pkcs11.Error
	if errors.As(err, &p11) {
		return uint(p11), true
	}
	return 0, false
}

// lostCodes are the return values that mean the session, the login or the
// module state is gone. Only reconnecting helps.
var lostCodes = map[uint]bool{
	pkcs11.CKR_SESSION_HANDLE_INVALID:        true,
	pkcs11.CKR_SESSION_CLOSED:                true,
	pkcs11.CKR_OBJECT_HANDLE_INVALID:         true,
	pkcs11.CKR_KEY_HANDLE_INVALID:            true,
	pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID:   true,
	pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID: true,
	pkcs11.CKR_DEVICE_REMOVED:                true,
	pkcs11.CKR_DEVICE_ERROR:                  true,
	pkcs11.CKR_TOKEN_NOT_PRESENT:             true,
	pkcs11.CKR_USER_NOT_LOGGED_IN:            true,
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:      true,
	// A session of ours is never left with an operation active or
	// without the one it began: these say the handle is no longer ours.
	// A module finalized and initialized again under us hands the same
	// handle numbers to new sessions, so a call in flight across it finds
	// another's session (TestRecoveryUnderLoad saw it).
	pkcs11.CKR_OPERATION_ACTIVE:          true,
	pkcs11.CKR_OPERATION_NOT_INITIALIZED: true,
}

// kindOf names a module return value. It is the single place where vendor
// codes become Segl's errors.
func kindOf(code uint) error {
	switch code {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return ErrPINIncorrect
	case pkcs11.CKR_PIN_LOCKED:
		return ErrPINLocked
	case pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID:
		return ErrTokenNotFound
	case pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID:
		return ErrMechanismUnsupported
	case pkcs11.CKR_ATTRIBUTE_SENSITIVE:
		return ErrAttributeSensitive
	case pkcs11.CKR_KEY_UNEXTRACTABLE, pkcs11.CKR_KEY_NOT_WRAPPABLE:
		return ErrKeyNotWrappable
	case pkcs11.CKR_KEY_TYPE_INCONSISTENT, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED:
		return ErrWrongKeyType
	case pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_DATA_INVALID, pkcs11.CKR_KEY_SIZE_RANGE:
		return ErrBadInput
	case pkcs11.CKR_WRAPPED_KEY_INVALID, pkcs11.CKR_WRAPPED_KEY_LEN_RANGE,
		pkcs11.CKR_ENCRYPTED_DATA_INVALID, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE:
		return ErrUnwrapFailed
	}
	if lostCodes[code] {
		return ErrSessionLost
	}
	return nil
}

// isLost reports whether err means the connection to the token must be
// rebuilt.
func isLost(err error) bool {
	code, ok := Code(err)
	if ok {
		return lostCodes[code]
	}
	// crypto11 reports a closed context in words only.
	return err != nil && strings.Contains(err.Error(), "context is closed")
}

// wrapErr turns any error from the module, crypto11 or the session pool into
// an *Error naming op. Errors that already are *Error pass through.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, pool.ErrTimeout) || errors.Is(err, errPoolTimeout) {
		return &Error{Op: op, Kind: ErrBusy, Err: err}
	}
	if errors.Is(err, pool.ErrClosed) || errors.Is(err, errPoolClosed) {
		return &Error{Op: op, Kind: ErrSessionLost, Err: err}
	}
	if code, ok := Code(err); ok {
		return &Error{Op: op, Kind: kindOf(code), Err: err}
	}
	if isLost(err) {
		return &Error{Op: op, Kind: ErrSessionLost, Err: err}
	}
	return &Error{Op: op, Err: err}
}
