// Package config is segld's one configuration file: strict YAML (an
// unknown key is an error), one validate per section, errors that name
// the field. Secrets are never in it: the HSM PIN comes from SEGL_HSM_PIN
// or the file named by hsm.pin-file (or SEGL_HSM_PIN_FILE).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is segld's configuration.
type Config struct {
	// Listen is the API's host:port.
	Listen string `yaml:"listen"`
	// Database is the SQLite database file.
	Database string `yaml:"database"`
	HSM      HSM    `yaml:"hsm"`
	Keys     Keys   `yaml:"keys"`
	TLS      TLS    `yaml:"tls"`
	Issuer   Issuer `yaml:"issuer"`
	Orders   Orders `yaml:"orders"`
	Audit    Audit  `yaml:"audit"`
	// Officers are registered from config at start (by certificate), so a
	// fresh installation has someone who can use the admin API.
	Officers []Officer `yaml:"officers"`
	// Dir is the directory relative paths are resolved against: the
	// config file's own.
	Dir string `yaml:"-"`
}

// HSM names the PKCS#11 module and token.
type HSM struct {
	Module   string `yaml:"module"`
	Token    string `yaml:"token"`
	PINFile  string `yaml:"pin-file"`
	Sessions int    `yaml:"sessions"`
}

// Keys are the labels of the daemon's token keys.
type Keys struct {
	Issuer     string `yaml:"issuer"`     // ECDSA P-256: signs assertions and users' certificates
	KEK        string `yaml:"kek"`        // AES-256, trusted: wraps users' keys
	Pepper     string `yaml:"pepper"`     // HMAC-SHA256: peppers password verifiers
	Audit      string `yaml:"audit"`      // ECDSA: signs audit checkpoints
	Activation string `yaml:"activation"` // HMAC-SHA256: binds signature activations
	CodeCard   string `yaml:"codecard"`   // HMAC-SHA256: the code-card master key
	DLCode     string `yaml:"dlcode"`     // HMAC-SHA256: dynamic-linking codes
}

// TLS is the API listener's mutual TLS.
type TLS struct {
	Certificate string `yaml:"certificate"` // server certificate chain, PEM
	Key         string `yaml:"key"`         // its private key, PEM file (mode 0600)
	ClientCA    string `yaml:"client-ca"`   // the private CA of RP and officer certificates
}

// Issuer is the CA that certifies users' keys.
type Issuer struct {
	Name        string `yaml:"name"`        // the assertion's iss
	Certificate string `yaml:"certificate"` // issuer certificate, then intermediates, PEM
}

// Orders is the order policy.
type Orders struct {
	Expiry      Duration `yaml:"expiry"`
	MaxFailures int      `yaml:"max-failures"` // consecutive failed factors, across orders, before a block
	Block       Duration `yaml:"block"`
	// ChallengeReissues: how often a code-card or dynamic-linking
	// challenge may be issued again for one order; ChallengesPerHour: how
	// many challenges one user may be given in an hour.
	ChallengeReissues int `yaml:"challenge-reissues"`
	ChallengesPerHour int `yaml:"challenges-per-hour"`
}

// Audit is how often the chain is sealed with a signed checkpoint, and
// where checkpoints go besides the database.
type Audit struct {
	CheckpointEvery    int      `yaml:"checkpoint-every"`
	CheckpointInterval Duration `yaml:"checkpoint-interval"`
	// CheckpointObject is the label of the token data object that holds
	// the last checkpoint signed, out of a database writer's reach.
	CheckpointObject string `yaml:"checkpoint-object"`
	// CheckpointFile, when set, receives every checkpoint as a JSON line,
	// appended and fsynced: a copy to keep elsewhere.
	CheckpointFile string `yaml:"checkpoint-file"`
}

// Officer is an officer's client certificate.
type Officer struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Certificate string `yaml:"certificate"`
}

// Duration is a time.Duration written as "3m", "15s".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 3m or 90s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.Dir = abs
	return c, nil
}

// Parse decodes strictly and validates; defaults fill what is left out.
func Parse(r io.Reader) (*Config, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the config is empty")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the config holds more than one YAML document")
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.HSM.Module, "/usr/lib/softhsm/libsofthsm2.so")
	def(&c.Keys.Issuer, "issuer")
	def(&c.Keys.KEK, "kek")
	def(&c.Keys.Pepper, "pepper")
	def(&c.Keys.Audit, "audit")
	def(&c.Keys.Activation, "activation")
	def(&c.Keys.CodeCard, "codecard")
	def(&c.Keys.DLCode, "dlcode")
	def(&c.Audit.CheckpointObject, "audit-checkpoint")
	if c.Orders.Expiry == 0 {
		c.Orders.Expiry = Duration(3 * time.Minute)
	}
	if c.Orders.MaxFailures == 0 {
		c.Orders.MaxFailures = 5
	}
	if c.Orders.Block == 0 {
		c.Orders.Block = Duration(15 * time.Minute)
	}
	if c.Orders.ChallengeReissues == 0 {
		c.Orders.ChallengeReissues = 3
	}
	if c.Orders.ChallengesPerHour == 0 {
		c.Orders.ChallengesPerHour = 20
	}
	if c.Audit.CheckpointEvery == 0 {
		c.Audit.CheckpointEvery = 100
	}
	if c.Audit.CheckpointInterval == 0 {
		c.Audit.CheckpointInterval = Duration(time.Minute)
	}
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required", field)
	}
	return nil
}

func (c *Config) validate() error {
	if err := required("listen", c.Listen); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if err := required("database", c.Database); err != nil {
		return err
	}
	for _, v := range []func() error{c.HSM.validate, c.TLS.validate, c.Issuer.validate, c.Orders.validate, c.Audit.validate} {
		if err := v(); err != nil {
			return err
		}
	}
	ids := map[string]int{}
	for i, o := range c.Officers {
		if err := o.validate(); err != nil {
			return fmt.Errorf("officers[%d].%w", i, err)
		}
		if j, ok := ids[o.ID]; ok {
			return fmt.Errorf("officers[%d].id: %q is officers[%d]'s too", i, o.ID, j)
		}
		ids[o.ID] = i
	}
	return nil
}

func (h *HSM) validate() error {
	if err := required("hsm.token", h.Token); err != nil {
		return err
	}
	if h.Sessions < 0 || h.Sessions == 1 {
		return fmt.Errorf("hsm.sessions: %d; use 0 for the default or at least 2", h.Sessions)
	}
	return nil
}

func (t *TLS) validate() error {
	for _, f := range []struct{ name, v string }{{"tls.certificate", t.Certificate}, {"tls.key", t.Key}, {"tls.client-ca", t.ClientCA}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func (i *Issuer) validate() error {
	if err := required("issuer.name", i.Name); err != nil {
		return err
	}
	return required("issuer.certificate", i.Certificate)
}

func (o *Orders) validate() error {
	if d := time.Duration(o.Expiry); d < 10*time.Second || d > time.Hour {
		return fmt.Errorf("orders.expiry: %s; between 10s and 1h", d)
	}
	if o.MaxFailures < 1 || o.MaxFailures > 100 {
		return fmt.Errorf("orders.max-failures: %d; between 1 and 100", o.MaxFailures)
	}
	if d := time.Duration(o.Block); d < time.Minute {
		return fmt.Errorf("orders.block: %s; at least 1m", d)
	}
	if o.ChallengeReissues < 1 || o.ChallengeReissues > 10 {
		return fmt.Errorf("orders.challenge-reissues: %d; between 1 and 10", o.ChallengeReissues)
	}
	if o.ChallengesPerHour < 1 || o.ChallengesPerHour > 1000 {
		return fmt.Errorf("orders.challenges-per-hour: %d; between 1 and 1000", o.ChallengesPerHour)
	}
	return nil
}

func (a *Audit) validate() error {
	if a.CheckpointEvery < 1 {
		return fmt.Errorf("audit.checkpoint-every: %d; at least 1", a.CheckpointEvery)
	}
	if d := time.Duration(a.CheckpointInterval); d < time.Second {
		return fmt.Errorf("audit.checkpoint-interval: %s; at least 1s", d)
	}
	if strings.TrimSpace(a.CheckpointObject) != a.CheckpointObject || len(a.CheckpointObject) > 56 {
		return fmt.Errorf("audit.checkpoint-object: %q; a token label of at most 56 bytes, without surrounding spaces", a.CheckpointObject)
	}
	return nil
}

func (o *Officer) validate() error {
	if err := required("id", o.ID); err != nil {
		return err
	}
	if err := required("name", o.Name); err != nil {
		return err
	}
	return required("certificate", o.Certificate)
}

// Path resolves p against the config file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}
