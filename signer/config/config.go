// Package config is segld's one configuration file: strict YAML, checked
// whole. Every error names its field by its YAML path, and all of them are
// reported at once, one a line: an unknown key (with the key that was
// probably meant), a value of the wrong kind, a value out of range, a
// required field left out; CheckFiles adds every file the config names
// that does not exist or does not parse. Secrets are never in it: the HSM
// PIN is in the file named by hsm.pin-file, the PostgreSQL password in
// the file database.password-file names or the environment variable
// database.password-env names; a database URL that holds a password is
// refused.
//
// The config file is the truth for segld: where it names something, the
// environment does not change it. Only when hsm.pin-file is left out does
// segld take the PIN from SEGL_HSM_PIN_FILE or SEGL_HSM_PIN (for
// containers whose secrets arrive that way). The segl command line, which
// has no config file, is configured by the environment alone.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/tokens/dlcode"
)

// Config is segld's configuration.
type Config struct {
	// Listen is the mutual-TLS API's host:port.
	Listen string `yaml:"listen"`
	// OpsListen, when set, is a plain-HTTP host:port for /healthz,
	// /readyz and /metrics, for load balancers and Prometheus.
	OpsListen string `yaml:"ops-listen"`
	// AppListen, when set, is the code app's API host:port: TLS with the
	// tls.certificate, and no client certificates.
	AppListen string `yaml:"app-listen"`
	App       App    `yaml:"app"`
	// Database is the SQLite file or the PostgreSQL database; see
	// DatabaseKind, SQLitePath and PostgresURL.
	Database  Database  `yaml:"database"`
	HSM       HSM       `yaml:"hsm"`
	Keys      Keys      `yaml:"keys"`
	TLS       TLS       `yaml:"tls"`
	Issuer    Issuer    `yaml:"issuer"`
	Orders    Orders    `yaml:"orders"`
	OTP       OTP       `yaml:"otp"`
	Passwords Passwords `yaml:"passwords"`
	API       API       `yaml:"api"`
	Audit     Audit     `yaml:"audit"`
	Log       Log       `yaml:"log"`
	// Plugins are the issuer's adapters, each a process of its own.
	Plugins []Plugin `yaml:"plugins"`
	SMS     SMS      `yaml:"sms"`
	// Documents is the passport check's verifier.
	Documents Documents `yaml:"documents"`
	// PIV is how YubiKey PIV cards are enrolled.
	PIV PIV `yaml:"piv"`
	// Officers are the officers, by certificate: the config is the truth,
	// and one taken out of it is removed at the next start.
	Officers []Officer `yaml:"officers"`
	// Dir is the directory relative paths are resolved against: the
	// config file's own.
	Dir string `yaml:"-"`
}

// HSM names the PKCS#11 module and token, and how segld uses it.
type HSM struct {
	Module      string   `yaml:"module"`
	Token       string   `yaml:"token"`
	PINFile     string   `yaml:"pin-file"`
	Sessions    int      `yaml:"sessions"`
	SessionWait Duration `yaml:"session-wait"`
	UnwrapCache int      `yaml:"unwrap-cache"`
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
	ChallengeReissues int      `yaml:"challenge-reissues"`
	ChallengesPerHour int      `yaml:"challenges-per-hour"`
	AssertionLifetime Duration `yaml:"assertion-lifetime"`
	QRMaxAge          Duration `yaml:"qr-max-age"`
	// DocumentCheckFrom: a payment at or above this amount (minor units,
	// by currency) needs a passport check besides its two factors.
	DocumentCheckFrom map[string]int64 `yaml:"document-check-from"`
}

// App is the code app's policy.
type App struct {
	MaxDevices int `yaml:"max-devices"` // active devices per user
}

// OTP is the verification policy of hardware OTP tokens.
type OTP struct {
	LookAhead    int      `yaml:"look-ahead"`
	ResyncWindow int      `yaml:"resync-window"`
	TOTPWindow   int      `yaml:"totp-window"`
	MaxFailures  int      `yaml:"max-failures"`
	Block        Duration `yaml:"block"`
	MaxBlock     Duration `yaml:"max-block"`
}

// Passwords are the argon2id parameters of new password verifiers.
type Passwords struct {
	MemoryMiB int `yaml:"memory-mib"`
	Passes    int `yaml:"passes"`
	Lanes     int `yaml:"lanes"`
}

// API is the HTTP API's limits.
type API struct {
	MaxBody int `yaml:"max-body"` // bytes
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

// Log is segld's own log (not the audit log).
type Log struct {
	Format string `yaml:"format"` // json or text
	Level  string `yaml:"level"`  // debug, info, warn or error
}

// Plugin is one adapter process.
type Plugin struct {
	Name     string `yaml:"name"`
	Contract string `yaml:"contract"` // what it is: "sms"
	Command  string `yaml:"command"`  // the binary, an absolute path
	SHA256   string `yaml:"sha256"`   // its checksum, pinned; checked before every launch
	// Config is passed to the plugin as it starts. Secrets are named by
	// file (a key ending in -file), never written here.
	Config map[string]string `yaml:"config"`
}

// Documents is how identity documents are checked.
type Documents struct {
	Verifier string   `yaml:"verifier"` // the plugin (contract docverify), or "" for no passport factor
	Timeout  Duration `yaml:"timeout"`  // of each check
}

var firmwareVersion = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`)

// PIV is what an enrolled YubiKey PIV card must prove.
type PIV struct {
	// AttestationRoots is a PEM file of roots trusted for cards'
	// attestations besides Yubico's (a test PKI, or another vendor's).
	AttestationRoots string `yaml:"attestation-roots"`
	// MinECDSAFirmware: ECDSA keys on older cards are refused (EUCLEAK).
	MinECDSAFirmware string `yaml:"min-ecdsa-firmware"`
	// AllowPINPolicyNever lets a key that signs without its PIN be
	// enrolled, as possession alone.
	AllowPINPolicyNever bool `yaml:"allow-pin-policy-never"`
}

// SMS is how codes are sent by SMS.
type SMS struct {
	Adapters      []string `yaml:"adapters"` // plugins (contract sms) to try, in order
	Timeout       Duration `yaml:"timeout"`  // of each send
	Language      string   `yaml:"language"` // the texts' language: a key of templates
	CodesPerOrder int      `yaml:"codes-per-order"`
	PerUserHour   int      `yaml:"per-user-hour"`
	// Templates are the texts by language; the shipped en and da when
	// left out.
	Templates map[string]SMSTemplate `yaml:"templates"`
}

// SMSTemplate is a code's text in one language, with {code}, {minutes}
// and {issuer}, and for a payment {amount} and {payee}.
type SMSTemplate struct {
	Payment string `yaml:"payment"`
	Login   string `yaml:"login"`
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
		return fmt.Errorf("%q is not a duration like 3m or 90s", n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Error is one thing wrong with a config, at a YAML path.
type Error struct {
	Path string // orders.expiry, officers[1].certificate
	Line int    // 0 when not known
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Errors is everything wrong with a config, one a line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errs collects Errors.
type errs struct{ list Errors }

func (e *errs) add(path, format string, args ...any) {
	e.list = append(e.list, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return e.list
}

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.Dir = abs
	return c, nil
}

// Parse decodes strictly and validates; defaults fill what is left out.
// Its error is Errors, everything found.
func Parse(r io.Reader) (*Config, error) {
	dec := yaml.NewDecoder(r)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Path: "the config", Msg: "is empty"}}
		}
		return nil, Errors{{Path: "the config", Msg: "is not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errors{{Path: "the config", Msg: "holds more than one YAML document"}}
	}
	var e errs
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		e.add("the config", "must be a mapping of keys (listen:, hsm:, …)")
		return nil, e.err()
	}
	checkNode(doc.Content[0], typeOfConfig, "", &e)
	if len(e.list) > 0 {
		return nil, e.err()
	}
	// Decoded over the defaults: a key left out keeps its default, and a
	// value given, even 0s or 0, is held to its range.
	c := Defaults()
	if err := doc.Content[0].Decode(&c); err != nil {
		e.add("the config", "%v", err)
		return nil, e.err()
	}
	c.validate(&e)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Defaults are the values of everything left out.
func Defaults() Config {
	var c Config
	c.defaults()
	return c
}

// defaults fills what is zero.
func (c *Config) defaults() {
	str := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	num := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	dur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	str(&c.HSM.Module, "/usr/lib/softhsm/libsofthsm2.so")
	num(&c.HSM.Sessions, 8)
	dur(&c.HSM.SessionWait, 10*time.Second)
	num(&c.HSM.UnwrapCache, 1024)
	str(&c.Keys.Issuer, "issuer")
	str(&c.Keys.KEK, "kek")
	str(&c.Keys.Pepper, "pepper")
	str(&c.Keys.Audit, "audit")
	str(&c.Keys.Activation, "activation")
	str(&c.Keys.CodeCard, "codecard")
	str(&c.Keys.DLCode, "dlcode")
	num(&c.App.MaxDevices, 3)
	dur(&c.Documents.Timeout, 10*time.Second)
	if c.PIV.MinECDSAFirmware == "" {
		c.PIV.MinECDSAFirmware = "5.7.0"
	}
	dur(&c.Orders.Expiry, 3*time.Minute)
	num(&c.Orders.MaxFailures, 5)
	dur(&c.Orders.Block, 15*time.Minute)
	num(&c.Orders.ChallengeReissues, 3)
	num(&c.Orders.ChallengesPerHour, 20)
	dur(&c.Orders.AssertionLifetime, 5*time.Minute)
	dur(&c.Orders.QRMaxAge, 3*time.Second)
	num(&c.OTP.LookAhead, 10)
	num(&c.OTP.ResyncWindow, 100)
	num(&c.OTP.TOTPWindow, 1)
	num(&c.OTP.MaxFailures, 5)
	dur(&c.OTP.Block, 15*time.Minute)
	dur(&c.OTP.MaxBlock, 24*time.Hour)
	num(&c.Passwords.MemoryMiB, 64)
	num(&c.Passwords.Passes, 2)
	num(&c.Passwords.Lanes, 2)
	num(&c.API.MaxBody, 16<<10)
	num(&c.Audit.CheckpointEvery, 100)
	dur(&c.Audit.CheckpointInterval, time.Minute)
	str(&c.Audit.CheckpointObject, "audit-checkpoint")
	str(&c.Log.Format, "json")
	str(&c.Log.Level, "info")
	dur(&c.SMS.Timeout, 10*time.Second)
	str(&c.SMS.Language, "en")
	num(&c.SMS.CodesPerOrder, 3)
	num(&c.SMS.PerUserHour, 5)
}

var (
	pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	settingKey = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	hexSum     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// inlineSecret is a setting whose name says it is a secret but
	// that is not a file's name.
	inlineSecret = regexp.MustCompile(`(password|passphrase|secret|token|credential|api-key|pin)$`)
)

func (c *Config) validatePlugins(e *errs) {
	contracts := map[string]string{}
	for i, p := range c.Plugins {
		at := fmt.Sprintf("plugins[%d]", i)
		if !pluginName.MatchString(p.Name) {
			e.add(at+".name", "%q; 1 to 32 of a-z 0-9 -", p.Name)
		} else if _, dup := contracts[p.Name]; dup {
			e.add(at+".name", "%q is another plugin's name too", p.Name)
		}
		contracts[p.Name] = p.Contract
		if p.Contract != "sms" && p.Contract != "docverify" {
			e.add(at+".contract", "%q; the contracts segld knows are sms and docverify", p.Contract)
		}
		if !filepath.IsAbs(p.Command) {
			e.add(at+".command", "%q is not an absolute path", p.Command)
		}
		if !hexSum.MatchString(p.SHA256) {
			e.add(at+".sha256", "%q is not a SHA-256 in lowercase hex (sha256sum prints it)", p.SHA256)
		}
		for k := range p.Config {
			switch {
			case !settingKey.MatchString(k):
				e.add(at+".config", "key %q; 1 to 64 of a-z 0-9 -", k)
			case inlineSecret.MatchString(k):
				e.add(at+".config."+k, "a secret is not written in the config: put it in a file only segld's user reads and name it in %s-file", k)
			}
		}
	}
	for i, a := range c.SMS.Adapters {
		switch contract, ok := contracts[a]; {
		case !ok:
			e.add(fmt.Sprintf("sms.adapters[%d]", i), "%q is not a plugin's name (plugins[].name)", a)
		case contract != "sms":
			e.add(fmt.Sprintf("sms.adapters[%d]", i), "%q is a %s plugin, not an SMS one", a, contract)
		}
	}
	within := func(path string, d Duration, lo, hi time.Duration) {
		if v := time.Duration(d); v < lo || v > hi {
			e.add(path, "%s; between %s and %s", v, lo, hi)
		}
	}
	within("sms.timeout", c.SMS.Timeout, 100*time.Millisecond, time.Minute)
	within("documents.timeout", c.Documents.Timeout, 100*time.Millisecond, time.Minute)
	if v := c.Documents.Verifier; v != "" {
		switch contract, ok := contracts[v]; {
		case !ok:
			e.add("documents.verifier", "%q is not a plugin's name (plugins[].name)", v)
		case contract != "docverify":
			e.add("documents.verifier", "%q is a %s plugin, not a document verifier", v, contract)
		}
	}
	if !firmwareVersion.MatchString(c.PIV.MinECDSAFirmware) {
		e.add("piv.min-ecdsa-firmware", "%q; a firmware version, such as 5.7.0", c.PIV.MinECDSAFirmware)
	}
	if c.SMS.CodesPerOrder < 1 || c.SMS.CodesPerOrder > 10 {
		e.add("sms.codes-per-order", "%d; between 1 and 10", c.SMS.CodesPerOrder)
	}
	if c.SMS.PerUserHour < 1 || c.SMS.PerUserHour > 100 {
		e.add("sms.per-user-hour", "%d; between 1 and 100", c.SMS.PerUserHour)
	}
	templates := c.SMS.Templates
	if templates == nil {
		templates = map[string]SMSTemplate{}
		for lang, t := range smsgate.DefaultTemplates {
			templates[lang] = SMSTemplate{Payment: t.Payment, Login: t.Login}
		}
	}
	if _, ok := templates[c.SMS.Language]; !ok {
		e.add("sms.language", "%q has no template (sms.templates)", c.SMS.Language)
	}
	for lang, t := range templates {
		if err := smsgate.CheckTemplate(t.Payment, true); err != nil {
			e.add("sms.templates."+lang+".payment", "%v", err)
		}
		if err := smsgate.CheckTemplate(t.Login, false); err != nil {
			e.add("sms.templates."+lang+".login", "%v", err)
		}
	}
}

// SMSTemplates are the SMS texts by language: the config's, or the
// shipped ones.
func (c *Config) SMSTemplates() map[string]smsgate.Template {
	if c.SMS.Templates == nil {
		return smsgate.DefaultTemplates
	}
	out := map[string]smsgate.Template{}
	for lang, t := range c.SMS.Templates {
		out[lang] = smsgate.Template{Payment: t.Payment, Login: t.Login}
	}
	return out
}

// CheckListeners checks listen, ops-listen and app-listen again, as Parse
// does, after a caller changed them (segld --listen). Its error is Errors.
func (c *Config) CheckListeners() error {
	var e errs
	c.validateListeners(&e)
	return e.err()
}

func (c *Config) validateListeners(e *errs) {
	address := func(path, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			e.add(path, "%q is not host:port", v)
		}
	}
	if strings.TrimSpace(c.Listen) == "" {
		e.add("listen", "is required")
	} else {
		address("listen", c.Listen)
	}
	if c.OpsListen != "" {
		address("ops-listen", c.OpsListen)
		if _, port, _ := net.SplitHostPort(c.OpsListen); c.OpsListen == c.Listen && port != "0" {
			e.add("ops-listen", "%q is listen's address too", c.OpsListen)
		}
	}
	if c.AppListen != "" {
		address("app-listen", c.AppListen)
		if _, port, _ := net.SplitHostPort(c.AppListen); (c.AppListen == c.Listen || c.AppListen == c.OpsListen) && port != "0" {
			e.add("app-listen", "%q is another listener's address too", c.AppListen)
		}
	}
}

func (c *Config) validate(e *errs) {
	required := func(path, v string) {
		if strings.TrimSpace(v) == "" {
			e.add(path, "is required")
		}
	}
	between := func(path string, v, lo, hi int) {
		if v < lo || v > hi {
			e.add(path, "%d; between %d and %d", v, lo, hi)
		}
	}
	within := func(path string, d Duration, lo, hi time.Duration) {
		if v := time.Duration(d); v < lo || v > hi {
			e.add(path, "%s; between %s and %s", v, lo, hi)
		}
	}
	c.validateListeners(e)
	between("app.max-devices", c.App.MaxDevices, 1, 20)
	c.validateDatabase(e)
	required("hsm.token", c.HSM.Token)
	between("hsm.sessions", c.HSM.Sessions, 2, 1024)
	within("hsm.session-wait", c.HSM.SessionWait, 10*time.Millisecond, 10*time.Minute)
	between("hsm.unwrap-cache", c.HSM.UnwrapCache, 0, 1<<20)
	for _, k := range []struct{ path, v string }{{"keys.issuer", c.Keys.Issuer}, {"keys.kek", c.Keys.KEK}, {"keys.pepper", c.Keys.Pepper},
		{"keys.audit", c.Keys.Audit}, {"keys.activation", c.Keys.Activation}, {"keys.codecard", c.Keys.CodeCard}, {"keys.dlcode", c.Keys.DLCode}} {
		if strings.TrimSpace(k.v) != k.v || len(k.v) > 64 {
			e.add(k.path, "%q; a token label of at most 64 bytes, without surrounding spaces", k.v)
		}
	}
	required("tls.certificate", c.TLS.Certificate)
	required("tls.key", c.TLS.Key)
	required("tls.client-ca", c.TLS.ClientCA)
	required("issuer.name", c.Issuer.Name)
	required("issuer.certificate", c.Issuer.Certificate)
	within("orders.expiry", c.Orders.Expiry, 10*time.Second, time.Hour)
	between("orders.max-failures", c.Orders.MaxFailures, 1, 100)
	within("orders.block", c.Orders.Block, time.Minute, 30*24*time.Hour)
	between("orders.challenge-reissues", c.Orders.ChallengeReissues, 1, 10)
	between("orders.challenges-per-hour", c.Orders.ChallengesPerHour, 1, 1000)
	within("orders.assertion-lifetime", c.Orders.AssertionLifetime, 10*time.Second, time.Hour)
	within("orders.qr-max-age", c.Orders.QRMaxAge, time.Second, time.Minute)
	for cur, amount := range c.Orders.DocumentCheckFrom {
		if !dlcode.ActiveCurrency(cur) {
			e.add("orders.document-check-from."+cur, "%q is not an active ISO 4217 currency", cur)
		}
		if amount < 1 {
			e.add("orders.document-check-from."+cur, "%d; an amount in minor units, 1 or more", amount)
		}
	}
	between("otp.look-ahead", c.OTP.LookAhead, 1, 100)
	between("otp.resync-window", c.OTP.ResyncWindow, c.OTP.LookAhead, 1000)
	between("otp.totp-window", c.OTP.TOTPWindow, 1, 10)
	between("otp.max-failures", c.OTP.MaxFailures, 1, 100)
	within("otp.block", c.OTP.Block, time.Minute, 30*24*time.Hour)
	within("otp.max-block", c.OTP.MaxBlock, time.Duration(c.OTP.Block), 365*24*time.Hour)
	// OWASP's floor for argon2id: 19 MiB and 2 passes.
	between("passwords.memory-mib", c.Passwords.MemoryMiB, 19, 4096)
	between("passwords.passes", c.Passwords.Passes, 2, 20)
	between("passwords.lanes", c.Passwords.Lanes, 1, 16)
	between("api.max-body", c.API.MaxBody, 4<<10, 1<<20)
	between("audit.checkpoint-every", c.Audit.CheckpointEvery, 1, 1_000_000)
	within("audit.checkpoint-interval", c.Audit.CheckpointInterval, time.Second, 24*time.Hour)
	if strings.TrimSpace(c.Audit.CheckpointObject) != c.Audit.CheckpointObject || len(c.Audit.CheckpointObject) > 56 {
		e.add("audit.checkpoint-object", "%q; a token label of at most 56 bytes, without surrounding spaces", c.Audit.CheckpointObject)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		e.add("log.format", "%q; json or text", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		e.add("log.level", "%q; debug, info, warn or error", c.Log.Level)
	}
	c.validatePlugins(e)
	ids := map[string]int{}
	for i, o := range c.Officers {
		at := fmt.Sprintf("officers[%d]", i)
		required(at+".id", o.ID)
		required(at+".name", o.Name)
		required(at+".certificate", o.Certificate)
		if j, ok := ids[o.ID]; ok && o.ID != "" {
			e.add(at+".id", "%q is officers[%d]'s too", o.ID, j)
		}
		ids[o.ID] = i
	}
}

// Path resolves p against the config file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}
