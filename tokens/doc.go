// Package tokens is the parent of the authenticators, one package each:
// password (argon2id with a pepper in the HSM), otp (HOTP/TOTP and their
// verification policy), pskc (RFC 6030 import), yubico (Yubico OTP and the
// vendor's CSV), codecard (code cards and their PDF) and dlcode (dynamic-
// linking codes). Each computes inside the HSM through small interfaces
// that package hsm satisfies, and none talks HTTP or SQL (DESIGN.md).
// YubiKey PIV enrolment is still to come (see the README's status table).
package tokens
