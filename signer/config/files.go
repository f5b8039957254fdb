package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/segl/segl/plugins/host"
)

// CheckFiles checks every file the config names, as segld will use it,
// short of the HSM: the TLS certificate and key (and that they belong
// together), the client CA, the issuer's and the officers' certificates,
// the PIV attestation roots,
// the PIN file (readable and not empty; never shown), the PKCS#11 module,
// the directories of the SQLite database and the checkpoint file, and
// the PostgreSQL password's file (readable and not empty) or variable
// (set and not empty). It does not connect to PostgreSQL: Parse checked
// the URL's form. Its error is Errors, everything found.
func (c *Config) CheckFiles() error {
	var e errs
	file := func(path, p string) bool {
		if p == "" {
			return false
		}
		if _, err := os.Stat(c.Path(p)); err != nil {
			e.add(path, "%s", pathErr(err, p))
			return false
		}
		return true
	}
	if file("tls.certificate", c.TLS.Certificate) && file("tls.key", c.TLS.Key) {
		if _, err := tls.LoadX509KeyPair(c.Path(c.TLS.Certificate), c.Path(c.TLS.Key)); err != nil {
			e.add("tls.certificate", "with tls.key: %s", strings.TrimPrefix(err.Error(), "tls: "))
		}
	}
	for _, f := range []struct{ path, p string }{{"tls.client-ca", c.TLS.ClientCA}, {"issuer.certificate", c.Issuer.Certificate},
		{"piv.attestation-roots", c.PIV.AttestationRoots}} {
		if file(f.path, f.p) {
			if _, err := ReadCertificates(c.Path(f.p)); err != nil {
				e.add(f.path, "%s: %v", f.p, err)
			}
		}
	}
	for i, o := range c.Officers {
		at := fmt.Sprintf("officers[%d].certificate", i)
		if file(at, o.Certificate) {
			if _, err := ReadCertificates(c.Path(o.Certificate)); err != nil {
				e.add(at, "%s: %v", o.Certificate, err)
			}
		}
	}
	if c.HSM.PINFile != "" {
		if b, err := os.ReadFile(c.Path(c.HSM.PINFile)); err != nil {
			e.add("hsm.pin-file", "%s", pathErr(err, c.HSM.PINFile))
		} else if strings.TrimRight(string(b), "\r\n") == "" {
			e.add("hsm.pin-file", "%s is empty", c.HSM.PINFile)
		}
	}
	if st, err := os.Stat(c.HSM.Module); err != nil {
		e.add("hsm.module", "%s", pathErr(err, c.HSM.Module))
	} else if !st.Mode().IsRegular() {
		e.add("hsm.module", "%s is not a file", c.HSM.Module)
	}
	for i, p := range c.Plugins {
		if p.Command == "" || !hexSum.MatchString(p.SHA256) {
			continue // validate said so
		}
		if _, err := host.CheckBinary(host.Spec{Name: p.Name, Command: p.Command, SHA256: p.SHA256}); err != nil {
			e.add(fmt.Sprintf("plugins[%d]", i), "plugin %s: %v", p.Name, err)
		}
	}
	if _, _, err := c.databasePassword(); err != nil {
		var es Errors
		errors.As(err, &es)
		e.list = append(e.list, es...)
	}
	for _, f := range []struct{ path, p string }{{"database", c.Database.Path}, {"audit.checkpoint-file", c.Audit.CheckpointFile}} {
		if f.p == "" {
			continue
		}
		dir := filepath.Dir(c.Path(f.p))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			e.add(f.path, "the directory of %s does not exist", f.p)
		}
	}
	return e.err()
}

// pathErr says what is wrong with a named file, with the path as the
// config has it.
func pathErr(err error, p string) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "open " + p + ": no such file"
	case errors.Is(err, fs.ErrPermission):
		return "open " + p + ": permission denied"
	}
	return err.Error()
}

// ReadCertificates reads the PEM certificates of a file, in order.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}
