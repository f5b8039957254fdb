package daemon

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/config"
)

// keyNeeds is what segld needs of each configured key.
var keyNeeds = []struct {
	path  string
	label func(*config.Config) string
	types []hsm.KeyType
	what  string
}{
	{"keys.issuer", func(c *config.Config) string { return c.Keys.Issuer }, []hsm.KeyType{hsm.ECDSAP256}, "an ECDSA P-256 key (it signs ES256 assertions and users' certificates)"},
	{"keys.kek", func(c *config.Config) string { return c.Keys.KEK }, []hsm.KeyType{hsm.AES256}, "a trusted AES-256 key-encryption key (`segl keys generate --type aes-256`)"},
	{"keys.pepper", func(c *config.Config) string { return c.Keys.Pepper }, []hsm.KeyType{hsm.HMACSHA256}, "an HMAC-SHA256 key"},
	{"keys.audit", func(c *config.Config) string { return c.Keys.Audit }, []hsm.KeyType{hsm.ECDSAP256, hsm.ECDSAP384}, "an ECDSA P-256 or P-384 key"},
	{"keys.activation", func(c *config.Config) string { return c.Keys.Activation }, []hsm.KeyType{hsm.HMACSHA256}, "an HMAC-SHA256 key"},
	{"keys.codecard", func(c *config.Config) string { return c.Keys.CodeCard }, []hsm.KeyType{hsm.HMACSHA256}, "an HMAC-SHA256 key"},
	{"keys.dlcode", func(c *config.Config) string { return c.Keys.DLCode }, []hsm.KeyType{hsm.HMACSHA256}, "an HMAC-SHA256 key"},
}

// CheckKeys logs in to the HSM as segld would and checks that every
// configured key label names a key of the type segld needs, sensitive and
// never extractable (the KEK trusted too). Its error is config.Errors,
// every key found wanting.
func CheckKeys(cfg *config.Config) error {
	pin, err := hsmPIN(cfg)
	if err != nil {
		return config.Errors{{Path: "hsm.pin-file", Msg: strings.TrimPrefix(err.Error(), "hsm.pin-file: ")}}
	}
	ks, err := hsm.Open(hsm.Config{Module: cfg.HSM.Module, Token: cfg.HSM.Token, PIN: pin, Sessions: 2})
	if err != nil {
		return config.Errors{{Path: "hsm", Msg: fmt.Sprintf("module %s, token %q: %v", cfg.HSM.Module, cfg.HSM.Token, err)}}
	}
	defer ks.Close()
	var errs config.Errors
	for _, n := range keyNeeds {
		label := n.label(cfg)
		k, err := ks.Find(label)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, hsm.ErrKeyNotFound) {
				msg = fmt.Sprintf("no key is labelled %q on token %q; it must be %s", label, cfg.HSM.Token, n.what)
			}
			errs = append(errs, &config.Error{Path: n.path, Msg: msg})
			continue
		}
		var wrong []string
		if !slices.Contains(n.types, k.Type) {
			wrong = append(wrong, fmt.Sprintf("is %s; it must be %s", k.Type, n.what))
		}
		if !k.Attrs.Sensitive || k.Attrs.Extractable || !k.Attrs.NeverExtractable {
			wrong = append(wrong, fmt.Sprintf("has %s; it must be sensitive and never extractable", k.Attrs))
		}
		if k.Type == hsm.AES256 && !k.Attrs.Trusted {
			wrong = append(wrong, "is not trusted (CKA_TRUSTED), so it cannot wrap users' keys")
		}
		for _, w := range wrong {
			errs = append(errs, &config.Error{Path: n.path, Msg: fmt.Sprintf("the key %q %s", label, w)})
		}
		if n.path == "keys.issuer" && len(wrong) == 0 {
			if msg := issuerMatches(cfg, ks); msg != "" {
				errs = append(errs, &config.Error{Path: "issuer.certificate", Msg: msg})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// issuerMatches says what is wrong when issuer.certificate is not the
// certificate of the HSM's issuer key, or "".
func issuerMatches(cfg *config.Config, ks *hsm.Keystore) string {
	chain, err := config.ReadCertificates(cfg.Path(cfg.Issuer.Certificate))
	if err != nil {
		return "" // CheckFiles says so
	}
	pub, err := ks.PublicKey(cfg.Keys.Issuer)
	if err != nil {
		return err.Error()
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if k, ok := pub.(equaler); !ok || !k.Equal(chain[0].PublicKey) {
		return fmt.Sprintf("its first certificate (%s) is not that of the HSM key %q", chain[0].Subject, cfg.Keys.Issuer)
	}
	return ""
}
