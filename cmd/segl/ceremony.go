package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/ca"
)

// ceremonyConfig is a key ceremony's one strict YAML file.
type ceremonyConfig struct {
	Key struct {
		Label string `yaml:"label"`
		Type  string `yaml:"type"`
	} `yaml:"key"`
	Issuer struct {
		KeyLabel    string `yaml:"key-label"`
		Certificate string `yaml:"certificate"`
	} `yaml:"issuer"`
	Certificate struct {
		CommonName   string    `yaml:"common-name"`
		Organization string    `yaml:"organization"`
		Country      string    `yaml:"country"`
		NotBefore    time.Time `yaml:"not-before"`
		NotAfter     time.Time `yaml:"not-after"`
		MaxPathLen   int       `yaml:"max-path-len"`
	} `yaml:"certificate"`
	Outputs struct {
		Certificate string `yaml:"certificate"`
		PublicKey   string `yaml:"public-key"`
	} `yaml:"outputs"`
}

var ceremonyKeyTypes = map[string]hsm.KeyType{
	"ecdsa-p256": hsm.ECDSAP256, "ecdsa-p384": hsm.ECDSAP384, "rsa-3072": hsm.RSA3072, "rsa-4096": hsm.RSA4096,
}

func (c *ceremonyConfig) validate(intermediate bool) error {
	switch {
	case c.Key.Label == "":
		return errors.New("key.label is required")
	case c.Key.Type == "":
		return errors.New("key.type is required")
	case ceremonyKeyTypes[c.Key.Type] == "":
		return fmt.Errorf("key.type %q: use ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096", c.Key.Type)
	case c.Certificate.CommonName == "":
		return errors.New("certificate.common-name is required")
	case c.Certificate.NotBefore.IsZero():
		return errors.New("certificate.not-before is required")
	case !c.Certificate.NotAfter.After(c.Certificate.NotBefore):
		return errors.New("certificate.not-after: must be after not-before")
	case c.Certificate.MaxPathLen < 0:
		return errors.New("certificate.max-path-len: must be 0 or more")
	case c.Outputs.Certificate == "":
		return errors.New("outputs.certificate is required")
	}
	if intermediate {
		if c.Issuer.KeyLabel == "" {
			return errors.New("issuer.key-label is required")
		}
		if c.Issuer.Certificate == "" {
			return errors.New("issuer.certificate is required")
		}
	} else if c.Issuer.KeyLabel != "" || c.Issuer.Certificate != "" {
		return errors.New("issuer: a root signs itself; remove the issuer section or run `ceremony intermediate`")
	}
	return nil
}

func loadCeremony(path string, intermediate bool) (*ceremonyConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var c ceremonyConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(intermediate); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func ceremonyCommand() *cli.Command {
	flags := []cli.Flag{&cli.StringFlag{Name: "config", Usage: "the ceremony's YAML file", Required: true}}
	return &cli.Command{
		Name:  "ceremony",
		Usage: "offline key ceremonies against the HSM: issuer CA keys and their certificates",
		Subcommands: []*cli.Command{
			{Name: "root", Usage: "generate a root CA key in the HSM and its self-signed certificate", Flags: flags,
				Action: func(c *cli.Context) error { return ceremony(c, false) }},
			{Name: "intermediate", Usage: "generate an intermediate CA key in the HSM and certify it with an issuer key", Flags: flags,
				Action: func(c *cli.Context) error { return ceremony(c, true) }},
		},
	}
}

// ceremony is boring on purpose: every output must be absent before
// anything is generated, the key label must be new, and the certificate is
// linted before the HSM signs it.
func ceremony(c *cli.Context, intermediate bool) error {
	cfg, err := loadCeremony(c.String("config"), intermediate)
	if err != nil {
		return err
	}
	for _, out := range []string{cfg.Outputs.Certificate, cfg.Outputs.PublicKey} {
		if out == "" {
			continue
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output %s exists already: a ceremony never overwrites a file", out)
		}
	}
	var issuerCert *x509.Certificate
	if intermediate {
		if issuerCert, err = readCertificate(cfg.Issuer.Certificate); err != nil {
			return fmt.Errorf("issuer.certificate: %w", err)
		}
	}
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	if _, err := ks.Find(cfg.Key.Label); err == nil {
		return fmt.Errorf("key.label %q exists on the token already: a ceremony makes a new key", cfg.Key.Label)
	} else if !errors.Is(err, hsm.ErrKeyNotFound) {
		return err
	}
	var issuerKey *hsm.Signer
	if intermediate {
		if issuerKey, err = ks.Signer(cfg.Issuer.KeyLabel); err != nil {
			return fmt.Errorf("issuer.key-label: %w", err)
		}
	}
	key, err := ks.Generate(cfg.Key.Label, ceremonyKeyTypes[cfg.Key.Type])
	if err != nil {
		return err
	}
	signer, err := ks.Signer(key.Label)
	if err != nil {
		return err
	}
	subj := ca.Subject{CommonName: cfg.Certificate.CommonName, Organization: cfg.Certificate.Organization, Country: cfg.Certificate.Country}
	var cert *x509.Certificate
	if intermediate {
		cert, err = ca.NewIntermediate(signer.Public(), subj, cfg.Certificate.NotBefore, cfg.Certificate.NotAfter, cfg.Certificate.MaxPathLen, issuerCert, issuerKey)
	} else {
		cert, err = ca.NewRoot(signer, subj, cfg.Certificate.NotBefore, cfg.Certificate.NotAfter, cfg.Certificate.MaxPathLen)
	}
	if err != nil {
		return fmt.Errorf("certificate (the key %q was generated and stays on the token; delete it with `segl keys delete` before trying again): %w", key.Label, err)
	}
	if err := writeExclusive(cfg.Outputs.Certificate, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})); err != nil {
		return err
	}
	if cfg.Outputs.PublicKey != "" {
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return err
		}
		if err := writeExclusive(cfg.Outputs.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
			return err
		}
	}
	fp := sha256.Sum256(cert.Raw)
	w := c.App.Writer
	fmt.Fprintf(w, "generated %s key %q (id %s)\n", cfg.Key.Type, key.Label, hex.EncodeToString(key.ID))
	fmt.Fprintf(w, "certificate: %s\n  subject: %s\n  issuer:  %s\n  serial:  %s\n  valid:   %s to %s\n  sha256:  %s\n",
		cfg.Outputs.Certificate, cert.Subject, cert.Issuer, strings.ToLower(cert.SerialNumber.Text(16)),
		cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), hex.EncodeToString(fp[:]))
	if cfg.Outputs.PublicKey != "" {
		fmt.Fprintf(w, "public key: %s\n", cfg.Outputs.PublicKey)
	}
	return nil
}

func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func writeExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
