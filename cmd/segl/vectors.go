package main

import (
	"crypto"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/app"
	"github.com/segl/segl/signer/qr"
	"github.com/segl/segl/softhsm"
	"github.com/segl/segl/testvectors"
	"github.com/segl/segl/tokens/codecard"
	"github.com/segl/segl/tokens/dlcode"
	"github.com/segl/segl/tokens/otp"
	"github.com/segl/segl/tokens/pskc"
	"github.com/segl/segl/tokens/yubico"
)

func vectorsCommand() *cli.Command {
	return &cli.Command{
		Name:  "vectors",
		Usage: "replay test vectors through the production HSM path",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "run vector files (all shipped ones when none are named) against a scratch SoftHSM token",
			ArgsUsage: "[FILE…]",
			Description: "Each case's keys are imported into a scratch SoftHSM token, as wrapped keys under a KEK, and the " +
				"code under test runs inside the HSM exactly as segld runs it. The qr and app-approval cases, whose keys are the " +
				"relying party's or a device's public key, run in software as they do in segld, and need no token. " +
				"One line per case, then a count; exit 1 on any failure.",
			Action: vectorsVerify,
		}},
	}
}

// vectorRunner runs one case of an algorithm against the keystore.
type vectorRunner func(ks *hsm.Keystore, c testvectors.Case) error

var vectorRunners = map[string]vectorRunner{
	"hotp":         runHOTP,
	"totp":         runTOTP,
	"codecard":     runCodecard,
	"dlcode":       runDLCode,
	"qr":           runQR,
	"pskc":         runPSKC,
	"yubico-otp":   runYubicoOTP,
	"app-approval": runAppApproval,
}

// inSoftware are the algorithms whose production path uses no HSM key:
// their runners are given a nil keystore, and files of only these need no
// scratch token.
var inSoftware = map[string]bool{"qr": true, "app-approval": true}

func vectorsVerify(c *cli.Context) error {
	var files []*testvectors.File
	if c.NArg() == 0 {
		var err error
		if files, err = testvectors.Shipped(); err != nil {
			return err
		}
	}
	for _, path := range c.Args().Slice() {
		f, err := testvectors.Load(path)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	var ks *hsm.Keystore
	for _, f := range files {
		if _, known := vectorRunners[f.Algorithm]; known && !inSoftware[f.Algorithm] {
			var cleanup func()
			var err error
			if ks, cleanup, err = scratchKeystore(); err != nil {
				return fmt.Errorf("scratch SoftHSM token: %w", err)
			}
			defer cleanup()
			break
		}
	}
	w := c.App.Writer
	passed, failed := 0, 0
	for _, f := range files {
		run, ok := vectorRunners[f.Algorithm]
		for _, tc := range f.Cases {
			err := fmt.Errorf("algorithm %q is not one this segl checks", f.Algorithm)
			if ok {
				err = run(ks, tc)
			}
			if err != nil {
				failed++
				fmt.Fprintf(w, "FAIL %s %s: %v\n", filepath.Base(f.Name), tc.Name, err)
				continue
			}
			passed++
			fmt.Fprintf(w, "ok   %s %s\n", filepath.Base(f.Name), tc.Name)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// scratchKeystore makes a throwaway SoftHSM token with a KEK. The module
// reads SOFTHSM2_CONF when it loads, so this process uses the scratch
// token only.
func scratchKeystore() (*hsm.Keystore, func(), error) {
	dir, err := os.MkdirTemp("", "segl-vectors-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	tok, err := softhsm.Create(dir, "segl-vectors")
	if err == nil {
		err = os.Setenv("SOFTHSM2_CONF", tok.Conf)
	}
	if err == nil {
		err = tok.Init()
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	ks, err := hsm.Open(tok.Config())
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if _, err := ks.GenerateKEK("kek", tok.SOPIN); err != nil {
		ks.Close()
		cleanup()
		return nil, nil, err
	}
	return ks, func() { ks.Close(); cleanup() }, nil
}

// seedHMAC imports a hex test key as a wrapped seed: the production path.
func seedHMAC(ks *hsm.Keystore, keyHex string) (*hsm.HMACKey, error) {
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) == 0 {
		return nil, errors.New("input.key is not hex")
	}
	w, err := ks.ImportSecret("kek", key)
	clear(key)
	if err != nil {
		return nil, err
	}
	return ks.WrappedHMAC(w)
}

// decodeCase decodes a case's input and expected strictly, naming which
// of the two is wrong.
func decodeCase(c testvectors.Case, in, want any) error {
	if err := testvectors.Decode(c.Input, in); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	if err := testvectors.Decode(c.Expected, want); err != nil {
		return fmt.Errorf("expected: %w", err)
	}
	return nil
}

func same(got, want string) error {
	if got != want {
		return fmt.Errorf("got %s, want %s", got, want)
	}
	return nil
}

type otpExpected struct {
	OTP string `json:"otp"`
}

func runHOTP(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		Key     string   `json:"key"`
		Counter uint64   `json:"counter"`
		Digits  int      `json:"digits"`
		Hash    otp.Hash `json:"hash"`
	}
	var want otpExpected
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	h, err := seedHMAC(ks, in.Key)
	if err != nil {
		return err
	}
	got, err := otp.HOTP(h, in.Hash, in.Counter, in.Digits)
	if err != nil {
		return err
	}
	return same(got, want.OTP)
}

func runTOTP(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		Key    string   `json:"key"`
		Time   int64    `json:"time"`
		Step   int64    `json:"step"`
		Digits int      `json:"digits"`
		Hash   otp.Hash `json:"hash"`
	}
	var want otpExpected
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	h, err := seedHMAC(ks, in.Key)
	if err != nil {
		return err
	}
	got, err := otp.TOTP(h, in.Hash, in.Time, in.Step, in.Digits)
	if err != nil {
		return err
	}
	return same(got, want.OTP)
}

func runCodecard(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		MasterKey string `json:"masterKey"`
		Serial    string `json:"serial"`
	}
	var want struct {
		Entries []struct {
			Index int    `json:"index"`
			Key   string `json:"key"`
			Code  string `json:"code"`
		} `json:"entries"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	if len(want.Entries) != codecard.Entries {
		return fmt.Errorf("expected: %d entries, a card has %d", len(want.Entries), codecard.Entries)
	}
	m, err := seedHMAC(ks, in.MasterKey)
	if err != nil {
		return err
	}
	keys, err := codecard.KeyNumbers(m, in.Serial)
	if err != nil {
		return err
	}
	for i, e := range want.Entries {
		if e.Index != i {
			return fmt.Errorf("expected: entry %d is numbered %d", i, e.Index)
		}
		if got := fmt.Sprintf("%04d", keys[i]); got != e.Key {
			return fmt.Errorf("entry %d: key number %s, want %s", i, got, e.Key)
		}
		ok, err := codecard.Check(m, in.Serial, i, e.Code)
		if err != nil {
			return err
		}
		if !ok {
			code, _ := codecard.Code(m, in.Serial, i)
			return fmt.Errorf("entry %d: code %s, want %s", i, code, e.Code)
		}
	}
	return nil
}

func runDLCode(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		Key         string `json:"key"`
		OrderRef    string `json:"orderRef"`
		AmountMinor string `json:"amountMinor"`
		Currency    string `json:"currency"`
		Payee       string `json:"payee"`
		IssuedAt    int64  `json:"issuedAt"`
		Digits      int    `json:"digits"`
	}
	var want struct {
		Code string `json:"code"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	d, err := seedHMAC(ks, in.Key)
	if err != nil {
		return err
	}
	p := dlcode.Payment{OrderRef: in.OrderRef, AmountMinor: in.AmountMinor, Currency: in.Currency, Payee: in.Payee}
	got, err := dlcode.Code(d, p, in.IssuedAt, in.Digits)
	if err != nil {
		return err
	}
	return same(got, want.Code)
}

// runQR checks the animated QR string. Its HMAC key is the order's
// qrStartSecret, which the relying party holds too, so it runs in software
// in segld as well: this is the production path.
func runQR(_ *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		Prefix        string `json:"prefix"`
		QRStartToken  string `json:"qrStartToken"`
		QRStartSecret string `json:"qrStartSecret"`
		Time          int64  `json:"time"`
	}
	var want struct {
		QRData string `json:"qrData"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	if err := same(qr.Data(in.Prefix, in.QRStartToken, in.QRStartSecret, in.Time), want.QRData); err != nil {
		return err
	}
	p, err := qr.Parse(want.QRData)
	if err != nil {
		return fmt.Errorf("the expected qrData does not parse: %w", err)
	}
	if p.Time != in.Time || p.StartToken != in.QRStartToken {
		return errors.New("the expected qrData parses to other parts")
	}
	return nil
}

// runPSKC imports a PSKC document through the path `segl tokens import`
// takes in segld (pskc.Parse, then Batch.Import into the HSM) and checks
// each token, or that the document is refused with the expected words.
// An imported seed cannot be read back, so it is compared by HMAC inside
// the HSM with the expected seed imported in plaintext.
func runPSKC(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		PSKC         string `json:"pskc"`
		PreSharedKey string `json:"preSharedKey"`
		Password     string `json:"password"`
	}
	var want struct {
		Tokens []struct {
			Serial  string   `json:"serial"`
			Kind    otp.Kind `json:"kind"`
			Digits  int      `json:"digits"`
			Counter uint64   `json:"counter"`
			Seed    string   `json:"seed"`
		} `json:"tokens"`
		Error string `json:"error"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	if (len(want.Tokens) == 0) == (want.Error == "") {
		return errors.New("expected: give tokens or error, one of them")
	}
	psk, err := hex.DecodeString(in.PreSharedKey)
	if err != nil {
		return errors.New("input.preSharedKey is not hex")
	}
	batch, err := pskc.Parse(strings.NewReader(in.PSKC))
	var blobs []*hsm.WrappedKey
	if err == nil {
		defer batch.Zero()
		blobs, err = batch.Import(ks, "kek", psk, []byte(in.Password))
	}
	if want.Error != "" {
		switch {
		case err == nil:
			return fmt.Errorf("imported %d tokens, want an error with %q", len(blobs), want.Error)
		case !strings.Contains(err.Error(), want.Error):
			return fmt.Errorf("refused with %q, want an error with %q", err, want.Error)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if len(batch.Tokens) != len(want.Tokens) {
		return fmt.Errorf("%d tokens, want %d", len(batch.Tokens), len(want.Tokens))
	}
	probe := []byte("segl vectors: which seed is this?")
	for i, w := range want.Tokens {
		t := batch.Tokens[i]
		if t.Serial != w.Serial || t.Kind != w.Kind || t.Digits != w.Digits || t.Counter != w.Counter {
			return fmt.Errorf("token %d: %s %s %d digits counter %d, want %s %s %d digits counter %d",
				i+1, t.Serial, t.Kind, t.Digits, t.Counter, w.Serial, w.Kind, w.Digits, w.Counter)
		}
		ref, err := seedHMAC(ks, w.Seed)
		if err != nil {
			return fmt.Errorf("expected token %d: %w", i+1, err)
		}
		got, err := ks.WrappedHMAC(blobs[i])
		if err != nil {
			return err
		}
		a, err := got.Sum(crypto.SHA1, probe)
		if err != nil {
			return err
		}
		b, err := ref.Sum(crypto.SHA1, probe)
		if err != nil {
			return err
		}
		if !hmac.Equal(a, b) {
			return fmt.Errorf("token %d (%s): the seed in the HSM is not %s", i+1, t.Serial, w.Seed)
		}
	}
	return nil
}

// runYubicoOTP imports the case's AES key as a wrapped key and checks the
// OTP with it inside the HSM, as segld does.
func runYubicoOTP(ks *hsm.Keystore, c testvectors.Case) error {
	var in struct {
		AESKey    string `json:"aesKey"`
		PrivateID string `json:"privateId"`
		OTP       string `json:"otp"`
	}
	var want struct {
		Valid          bool   `json:"valid"`
		SessionCounter *uint8 `json:"sessionCounter"`
		UseCounter     *int   `json:"useCounter"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	if want.Valid && (want.SessionCounter == nil || want.UseCounter == nil) {
		return errors.New("expected: a valid OTP needs sessionCounter and useCounter")
	}
	key, err := hex.DecodeString(in.AESKey)
	if err != nil {
		return errors.New("input.aesKey is not hex")
	}
	pid, err := hex.DecodeString(in.PrivateID)
	if err != nil {
		return errors.New("input.privateId is not hex")
	}
	w, err := ks.ImportAESKey("kek", key)
	clear(key)
	if err != nil {
		return err
	}
	aes, err := ks.WrappedAES(w)
	if err != nil {
		return err
	}
	o, err := yubico.Parse(in.OTP)
	if err != nil {
		return err
	}
	ctr, err := yubico.Check(aes, pid, o)
	switch {
	case errors.Is(err, yubico.ErrInvalid) && !want.Valid:
		return nil
	case err != nil && !errors.Is(err, yubico.ErrInvalid):
		return err
	case err != nil:
		return fmt.Errorf("refused (%v), want valid", err)
	case !want.Valid:
		return fmt.Errorf("accepted with use counter %d, session counter %d; want refused", ctr.Use, ctr.Session)
	case int(ctr.Use) != *want.UseCounter || ctr.Session != *want.SessionCounter:
		return fmt.Errorf("use counter %d, session counter %d; want %d, %d", ctr.Use, ctr.Session, *want.UseCounter, *want.SessionCounter)
	}
	return nil
}

// runAppApproval checks a device's signature over an approval as segld's
// app factor does (signer/factors): app.ParsePublicKey, app.ApprovalMessage,
// app.Verify. It is ECDSA verification with the device's public key, in
// software in segld too. A case whose publicKey or userVisibleData does
// not decode is wrong, not an invalid approval: only the signature is
// under test, so that a typo cannot pass as a refusal.
func runAppApproval(_ *hsm.Keystore, c testvectors.Case) error {
	var in testvectors.AppApprovalInput
	var want struct {
		Valid *bool `json:"valid"`
	}
	if err := decodeCase(c, &in, &want); err != nil {
		return err
	}
	if want.Valid == nil {
		return errors.New("expected: valid is missing")
	}
	pub, _, err := app.ParsePublicKey(in.PublicKey)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	shown, err := base64.StdEncoding.Strict().DecodeString(in.UserVisibleData)
	if err != nil {
		return errors.New("input.userVisibleData is not base64")
	}
	msg := app.ApprovalMessage(app.Approval{OrderRef: in.OrderRef, Challenge: in.Challenge, UserVisibleData: shown,
		AmountMinor: in.AmountMinor, Currency: in.Currency, Payee: in.Payee, Decision: in.Decision, UserVerification: in.UserVerification})
	err = app.Verify(pub, msg, in.Signature)
	switch {
	case err != nil && !errors.Is(err, app.ErrBadSignature):
		return err
	case err == nil && !*want.Valid:
		return errors.New("the signature verifies; want refused")
	case err != nil && *want.Valid:
		return fmt.Errorf("refused (%v); want valid", err)
	}
	return nil
}
