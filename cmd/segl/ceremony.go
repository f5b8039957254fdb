package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/ca"
)

// ceremonyKeyTypes are the keys a ceremony makes for a CA, in the order
// the errors list them.
var ceremonyKeyTypes = []hsm.KeyType{hsm.ECDSAP256, hsm.ECDSAP384, hsm.RSA3072, hsm.RSA4096}

// ceremonyConfig is a key ceremony's one strict YAML file. Each part has
// its own validate, and every error names the field as the file spells it.
type ceremonyConfig struct {
	Key         ceremonyKey         `yaml:"key"`
	Issuer      *ceremonyIssuer     `yaml:"issuer"` // intermediate only
	Certificate ceremonyCertificate `yaml:"certificate"`
	Outputs     ceremonyOutputs     `yaml:"outputs"`
}

type ceremonyKey struct {
	Label string `yaml:"label"`
	Type  string `yaml:"type"`
}

type ceremonyIssuer struct {
	KeyLabel    string `yaml:"key-label"`
	Certificate string `yaml:"certificate"`
}

type ceremonyCertificate struct {
	CommonName   string `yaml:"common-name"`
	Organization string `yaml:"organization"`
	Country      string `yaml:"country"`
	NotBefore    string `yaml:"not-before"` // RFC 3339, parsed by validate
	NotAfter     string `yaml:"not-after"`
	MaxPathLen   *int   `yaml:"max-path-len"` // required: 0 is a choice, not a default

	notBefore, notAfter time.Time
}

type ceremonyOutputs struct {
	Certificate string `yaml:"certificate"`
	PublicKey   string `yaml:"public-key"` // optional
}

func (k *ceremonyKey) validate() error {
	switch {
	case k.Label == "":
		return errors.New("key.label is required")
	case strings.TrimSpace(k.Label) != k.Label:
		return fmt.Errorf("key.label %q: no spaces before or after the label", k.Label)
	case k.Type == "":
		return errors.New("key.type is required")
	}
	if _, err := k.keyType(); err != nil {
		return err
	}
	return nil
}

func (k *ceremonyKey) keyType() (hsm.KeyType, error) {
	var names []string
	for _, t := range ceremonyKeyTypes {
		if string(t) == k.Type {
			return t, nil
		}
		names = append(names, string(t))
	}
	return "", fmt.Errorf("key.type %q: a CA key is one of %s", k.Type, strings.Join(names, ", "))
}

func (i *ceremonyIssuer) validate() error {
	switch {
	case i.KeyLabel == "":
		return errors.New("issuer.key-label is required")
	case i.Certificate == "":
		return errors.New("issuer.certificate is required")
	}
	return nil
}

func (c *ceremonyCertificate) validate() error {
	var err error
	if c.notBefore, err = parseTime("certificate.not-before", c.NotBefore); err != nil {
		return err
	}
	if c.notAfter, err = parseTime("certificate.not-after", c.NotAfter); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(c.CommonName) == "":
		return errors.New("certificate.common-name is required")
	case c.Organization != "" && strings.TrimSpace(c.Organization) == "":
		return errors.New("certificate.organization: blank; leave it out or name the organization")
	case c.Country != "" && !isCountryCode(c.Country):
		return fmt.Errorf("certificate.country %q: use the two capital letters of ISO 3166 (DK, SE, …)", c.Country)
	case !c.notAfter.After(c.notBefore):
		return errors.New("certificate.not-after: must be after not-before")
	case c.MaxPathLen == nil:
		return errors.New("certificate.max-path-len is required (0: it certifies no further CA)")
	case *c.MaxPathLen < 0:
		return errors.New("certificate.max-path-len: must be 0 or more")
	}
	return nil
}

// parseTime reads an RFC 3339 time with its zone, the only spelling a
// ceremony takes.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required", field)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", field, s)
	}
	return t.UTC(), nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

func (o *ceremonyOutputs) validate() error {
	switch {
	case o.Certificate == "":
		return errors.New("outputs.certificate is required")
	case o.PublicKey != "" && filepath.Clean(o.PublicKey) == filepath.Clean(o.Certificate):
		return errors.New("outputs.public-key: the same file as outputs.certificate")
	}
	return nil
}

func (c *ceremonyConfig) validate(intermediate bool) error {
	if err := c.Key.validate(); err != nil {
		return err
	}
	if intermediate {
		if c.Issuer == nil {
			c.Issuer = &ceremonyIssuer{}
		}
		if err := c.Issuer.validate(); err != nil {
			return err
		}
		if c.Issuer.KeyLabel == c.Key.Label {
			return errors.New("key.label: the new key needs a label of its own, not issuer.key-label's")
		}
	} else if c.Issuer != nil {
		return errors.New("issuer: a root certifies itself; remove this section, or run `segl ceremony intermediate`")
	}
	if err := c.Certificate.validate(); err != nil {
		return err
	}
	if err := c.Outputs.validate(); err != nil {
		return err
	}
	if intermediate {
		for _, out := range c.outputs() {
			if filepath.Clean(out.path) == filepath.Clean(c.Issuer.Certificate) {
				return fmt.Errorf("%s: the same file as issuer.certificate", out.field)
			}
		}
	}
	return nil
}

// sections maps the config's Go types to the fields' prefixes in the file.
var sections = map[string]string{
	reflect.TypeFor[ceremonyConfig]().String():      "",
	reflect.TypeFor[ceremonyKey]().String():         "key.",
	reflect.TypeFor[ceremonyIssuer]().String():      "issuer.",
	reflect.TypeFor[ceremonyCertificate]().String(): "certificate.",
	reflect.TypeFor[ceremonyOutputs]().String():     "outputs.",
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type (\S+)`)

// yamlFieldNames spells yaml.v3's unknown-field errors with the field's
// path in the file ("unknown field key.colour") instead of a Go type.
func yamlFieldNames(err error) string {
	return unknownField.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := unknownField.FindStringSubmatch(m)
		prefix, ok := sections[sub[2]]
		if !ok {
			return m
		}
		return "unknown field " + prefix + sub[1]
	})
}

type ceremonyOutput struct{ field, path string }

// outputs lists the files the ceremony writes, with their fields.
func (c *ceremonyConfig) outputs() []ceremonyOutput {
	outs := []ceremonyOutput{{"outputs.certificate", c.Outputs.Certificate}}
	if c.Outputs.PublicKey != "" {
		outs = append(outs, ceremonyOutput{"outputs.public-key", c.Outputs.PublicKey})
	}
	return outs
}

// loadCeremony reads path strictly: one YAML document, no unknown keys,
// every field checked.
func loadCeremony(path string, intermediate bool) (*ceremonyConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c ceremonyConfig
	if err := dec.Decode(&c); errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty", path)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlFieldNames(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document; a ceremony has one", path)
	}
	if err := c.validate(intermediate); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func ceremonyCommand() *cli.Command {
	flags := []cli.Flag{&cli.StringFlag{Name: "config", Usage: "the ceremony's YAML file", Required: true}}
	desc := "The ceremony reads one strict YAML file (unknown keys are errors) naming the key to generate " +
		"(key.label, key.type: " + joinTypes() + "), the certificate (certificate.common-name, organization, " +
		"country, not-before, not-after, max-path-len) and the files to write (outputs.certificate, " +
		"outputs.public-key). Paths are relative to the working directory. It refuses a label the token " +
		"already has and an output file that exists, checks the certificate with throwaway software keys " +
		"before it generates anything, and never overwrites a file."
	return &cli.Command{
		Name:  "ceremony",
		Usage: "offline key ceremonies against the HSM: issuer CA keys and their certificates",
		Subcommands: []*cli.Command{
			{
				Name:        "root",
				Usage:       "generate a root CA key in the HSM and its self-signed certificate",
				Description: desc,
				Flags:       flags,
				Action:      func(c *cli.Context) error { return ceremony(c, false) },
			},
			{
				Name:  "intermediate",
				Usage: "generate an intermediate CA key in the HSM and certify it with an issuer key on the same token",
				Description: desc + " An intermediate also names its issuer: issuer.key-label (the issuer's key " +
					"on the token) and issuer.certificate (its PEM certificate).",
				Flags:  flags,
				Action: func(c *cli.Context) error { return ceremony(c, true) },
			},
		},
	}
}

func joinTypes() string {
	var s []string
	for _, t := range ceremonyKeyTypes {
		s = append(s, string(t))
	}
	return strings.Join(s, "|")
}

// ceremony is boring on purpose. In order: the config is checked; the
// certificate is rehearsed with software keys; every output file is
// created (O_EXCL, so none is overwritten); the label must be new on the
// token and the issuer key must be the issuer certificate's; only then is
// the key generated, the certificate linted again and signed by the HSM,
// and the files written. A failure before the key is generated leaves no
// trace: the empty output files are removed.
func ceremony(c *cli.Context, intermediate bool) (err error) {
	if c.Args().Present() {
		return fmt.Errorf("unexpected argument %q: the ceremony takes only --config", c.Args().First())
	}
	cfg, err := loadCeremony(c.String("config"), intermediate)
	if err != nil {
		return err
	}
	typ, _ := cfg.Key.keyType()
	cc := cfg.Certificate
	subj := ca.Subject{CommonName: cc.CommonName, Organization: cc.Organization, Country: cc.Country}

	var issuerCert *x509.Certificate
	if intermediate {
		if issuerCert, err = readCertificate(cfg.Issuer.Certificate); err != nil {
			return fmt.Errorf("issuer.certificate: %w", err)
		}
		if cc.notBefore.Before(issuerCert.NotBefore) {
			return fmt.Errorf("certificate.not-before: %s is before the issuer's not-before %s", stamp(cc.notBefore), stamp(issuerCert.NotBefore))
		}
		if cc.notAfter.After(issuerCert.NotAfter) {
			return fmt.Errorf("certificate.not-after: %s is after the issuer's not-after %s", stamp(cc.notAfter), stamp(issuerCert.NotAfter))
		}
	}
	if err := rehearse(typ, subj, cc, issuerCert); err != nil {
		return fmt.Errorf("certificate: %w (nothing was generated)", err)
	}

	files, err := createOutputs(cfg.outputs())
	if err != nil {
		return err
	}
	defer func() {
		if rerr := files.removeUnwritten(); rerr != nil && err == nil {
			err = rerr
		}
	}()

	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	if _, err := ks.Find(cfg.Key.Label); err == nil {
		return fmt.Errorf("key.label %q: %w on the token; a ceremony makes a new key and never reuses one", cfg.Key.Label, hsm.ErrLabelExists)
	} else if !errors.Is(err, hsm.ErrKeyNotFound) {
		return err
	}
	var issuerKey *hsm.Signer
	if intermediate {
		if issuerKey, err = ks.Signer(cfg.Issuer.KeyLabel); err != nil {
			return fmt.Errorf("issuer.key-label %q: %w", cfg.Issuer.KeyLabel, err)
		}
		if !samePublicKey(issuerKey.Public(), issuerCert.PublicKey) {
			return fmt.Errorf("issuer.key-label %q is not the key that %s certifies", cfg.Issuer.KeyLabel, cfg.Issuer.Certificate)
		}
	}

	key, err := ks.Generate(cfg.Key.Label, typ)
	if err != nil {
		return fmt.Errorf("key.label %q: %w", cfg.Key.Label, err)
	}
	signer, err := ks.Signer(key.Label)
	if err == nil {
		var cert *x509.Certificate
		if intermediate {
			cert, err = ca.NewIntermediate(signer.Public(), subj, cc.notBefore, cc.notAfter, *cc.MaxPathLen, issuerCert, issuerKey)
		} else {
			cert, err = ca.NewRoot(signer, subj, cc.notBefore, cc.notAfter, *cc.MaxPathLen)
		}
		if err == nil {
			return finishCeremony(c.App.Writer, ks.Config().Token, cfg, key, signer.Public(), cert, issuerCert, files)
		}
	}
	return fmt.Errorf("%w\nthe key %q was generated and stays on the token, but no certificate was made: "+
		"delete it with `segl keys delete --label %s` before running the ceremony again", err, key.Label, key.Label)
}

// finishCeremony writes the outputs and says what was made.
func finishCeremony(w io.Writer, token string, cfg *ceremonyConfig, key *hsm.Key, pub crypto.PublicKey, cert, issuerCert *x509.Certificate, files outputFiles) error {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	if err := files.write(cfg.Outputs.Certificate, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})); err != nil {
		return err
	}
	if cfg.Outputs.PublicKey != "" {
		if err := files.write(cfg.Outputs.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})); err != nil {
			return err
		}
	}
	issuer := cert.Issuer.String() + " (self-signed)"
	if issuerCert != nil {
		issuer = fmt.Sprintf("%s (key %q)", cert.Issuer, cfg.Issuer.KeyLabel)
	}
	fmt.Fprintf(w, "generated %s key %q on token %q (id %s)\n", key.Type, key.Label, token, hex.EncodeToString(key.ID))
	fmt.Fprintf(w, "certificate %s\n", cfg.Outputs.Certificate)
	fmt.Fprintf(w, "  subject:     %s\n", cert.Subject)
	fmt.Fprintf(w, "  issuer:      %s\n", issuer)
	fmt.Fprintf(w, "  serial:      %s\n", strings.ToUpper(hex.EncodeToString(cert.SerialNumber.Bytes())))
	fmt.Fprintf(w, "  not before:  %s\n", stamp(cert.NotBefore))
	fmt.Fprintf(w, "  not after:   %s\n", stamp(cert.NotAfter))
	fmt.Fprintf(w, "  path length: %d\n", cert.MaxPathLen)
	fmt.Fprintf(w, "  SHA-256:     %s\n", fingerprint(cert.Raw))
	if cfg.Outputs.PublicKey != "" {
		fmt.Fprintf(w, "public key %s\n", cfg.Outputs.PublicKey)
	} else {
		fmt.Fprintf(w, "public key\n")
	}
	fmt.Fprintf(w, "  SHA-256:     %s (SubjectPublicKeyInfo)\n", fingerprint(spki))
	return nil
}

// rehearse runs the certificate's checks with a software key standing in
// for the one the HSM will generate, so a config the CA code refuses
// costs no key on the token. RSA stands in at 2048 bits: the profile and
// the signature algorithm do not depend on the size.
func rehearse(typ hsm.KeyType, subj ca.Subject, cc ceremonyCertificate, issuer *x509.Certificate) error {
	var stand crypto.Signer
	var err error
	switch typ {
	case hsm.ECDSAP256:
		stand, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case hsm.ECDSAP384:
		stand, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case hsm.RSA3072, hsm.RSA4096:
		stand, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("no rehearsal for %s keys", typ)
	}
	if err != nil {
		return err
	}
	if issuer == nil {
		return ca.LintRoot(stand.Public(), subj, cc.notBefore, cc.notAfter, *cc.MaxPathLen)
	}
	return ca.LintIntermediate(stand.Public(), subj, cc.notBefore, cc.notAfter, *cc.MaxPathLen, issuer)
}

// outputFiles are the ceremony's output files, created empty before the
// HSM is touched.
type outputFiles map[string]*os.File

// createOutputs creates every output with O_EXCL, or none of them.
func createOutputs(outs []ceremonyOutput) (outputFiles, error) {
	files := outputFiles{}
	for _, out := range outs {
		f, err := os.OpenFile(out.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			files.removeUnwritten()
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("%s: %s exists already; a ceremony never overwrites a file", out.field, out.path)
			}
			return nil, fmt.Errorf("%s: %w", out.field, err)
		}
		files[out.path] = f
	}
	return files, nil
}

// write fills the output at path, syncs and closes it.
func (files outputFiles) write(path string, b []byte) error {
	f := files[path]
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	delete(files, path)
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeUnwritten removes the outputs that were created but not written.
func (files outputFiles) removeUnwritten() error {
	var errs []error
	for path, f := range files {
		f.Close()
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
		}
		delete(files, path)
	}
	return errors.Join(errs...)
}

// readCertificate reads a PEM file that holds exactly one certificate.
func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%s holds more than one PEM block; name a file with the issuer's certificate alone", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// fingerprint is b's SHA-256 as openssl prints it: AB:CD:….
func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	parts := make([]string, len(sum))
	for i, x := range sum {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

// writeExclusive writes a new file; it fails if path exists. Other
// commands that must not overwrite a file use it too.
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
