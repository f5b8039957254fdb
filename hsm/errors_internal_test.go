package hsm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/thales-e-security/pool"
)

// The mapping from the module's return values to the package's errors.
// The tests in hsm_test provoke most of these for real against SoftHSM;
// this table also covers the codes SoftHSM never returns.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{pkcs11.Error(pkcs11.CKR_PIN_INCORRECT), ErrPINIncorrect},
		{pkcs11.Error(pkcs11.CKR_PIN_LEN_RANGE), ErrPINIncorrect},
		{pkcs11.Error(pkcs11.CKR_PIN_LOCKED), ErrPINLocked},
		{pkcs11.Error(pkcs11.CKR_TOKEN_NOT_RECOGNIZED), ErrTokenNotFound},
		{pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID), ErrMechanismUnsupported},
		{pkcs11.Error(pkcs11.CKR_MECHANISM_PARAM_INVALID), ErrMechanismUnsupported},
		{pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE), ErrAttributeSensitive},
		{pkcs11.Error(pkcs11.CKR_KEY_UNEXTRACTABLE), ErrKeyNotWrappable},
		{pkcs11.Error(pkcs11.CKR_KEY_NOT_WRAPPABLE), ErrKeyNotWrappable},
		{pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED), ErrWrongKeyType},
		{pkcs11.Error(pkcs11.CKR_KEY_SIZE_RANGE), ErrBadInput},
		{pkcs11.Error(pkcs11.CKR_WRAPPED_KEY_INVALID), ErrUnwrapFailed},
		{pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID), ErrSessionLost},
		{pkcs11.Error(pkcs11.CKR_SESSION_CLOSED), ErrSessionLost},
		{pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID), ErrSessionLost},
		{pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED), ErrSessionLost},
		{pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN), ErrSessionLost},
		{pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED), ErrSessionLost},
		// crypto11 wraps codes in its own messages.
		{fmt.Errorf("failed to log in: %w", pkcs11.Error(pkcs11.CKR_PIN_LOCKED)), ErrPINLocked},
		{pool.ErrTimeout, ErrBusy},
		{errPoolTimeout, ErrBusy},
		{errors.New("context is closed"), ErrSessionLost},
	}
	for _, tc := range cases {
		err := wrapErr("op", tc.err)
		if !errors.Is(err, tc.want) {
			t.Errorf("%v maps to %v, want %v", tc.err, err, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: the cause is lost in %v", tc.err, err)
		}
	}
	// An unknown code keeps its name and gains no kind.
	err := wrapErr("op", pkcs11.Error(pkcs11.CKR_FUNCTION_FAILED))
	var he *Error
	if !errors.As(err, &he) || he.Kind != nil || err.Error() != "hsm: op: pkcs11: 0x6: CKR_FUNCTION_FAILED" {
		t.Fatalf("unknown code: %#v %q", he, err)
	}
	// An *Error passes through unchanged.
	if again := wrapErr("other op", err); again != err {
		t.Fatal("an *Error was wrapped twice")
	}
}
