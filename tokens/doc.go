// Package tokens will hold the authenticators: HOTP/TOTP and PSKC import,
// Yubico OTP, code cards, dynamic-linking codes, personal passwords and
// YubiKey PIV enrolment, each computing inside the HSM through package hsm
// and reaching storage through small interfaces (DESIGN.md).
//
// Nothing is here yet. See the README's status table.
package tokens
