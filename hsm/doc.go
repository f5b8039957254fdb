// Package hsm is Segl's only door to the PKCS#11 HSM.
//
// A [Keystore] is one logged-in token. Through it callers generate, find,
// list and destroy keys by label, sign with asymmetric keys through
// [crypto.Signer], compute HMACs inside the HSM, and hold any number of
// per-user keys and OTP seeds as [WrappedKey] blobs: generated or imported
// inside the HSM, wrapped under a trusted AES key-encryption key that never
// leaves it, and unwrapped into short-lived session objects when used.
// Plaintext key material never passes through Go memory, with documented
// exceptions: [Keystore.ImportSecret] and [Keystore.ImportAESKey] take a key
// the caller already holds (a plaintext PSKC seed, a Yubico CSV's AES key),
// and [Keystore.ImportSealed], on a module that cannot unwrap AES-CBC
// (SoftHSM), has the HSM decrypt each sealed seed and creates it from a
// buffer that is zeroed at once.
//
// Token keys are signed with through ThalesGroup/crypto11; the calls crypto11
// lacks (Ed25519, secret-key import, wrap and unwrap, attribute inspection,
// login) go straight to miekg/pkcs11 on a session pool of the package's own.
// Both share one loaded module, so one login serves both.
//
// When the token's sessions are closed from outside, the user is logged out,
// or the module is finalized and initialized again, the call that notices
// fails with [ErrSessionLost] and the Keystore reconnects: crypto11's context
// is closed and configured again, the user logs in again and every key is
// looked up again on its next use. It does this at most once per
// [Config.RecoveryInterval] and never after a PIN was refused.
//
// Errors from the module are mapped at this boundary to the exported
// sentinels below ([ErrKeyNotFound], [ErrPINIncorrect], …) inside an [*Error]
// that keeps the PKCS#11 return value, so callers use errors.Is and operators
// still see CKR_ names.
package hsm

// A build without cgo stops in needcgo with a message that says why.
import _ "github.com/segl/segl/hsm/needcgo"
