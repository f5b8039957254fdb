package config_test

import (
	"strings"
	"testing"

	"github.com/segl/segl/signer/config"
)

const good = `listen: 127.0.0.1:8443
database: segl.db
hsm: {token: segl}
tls: {certificate: s.pem, key: s.key, client-ca: ca.pem}
issuer: {name: segl, certificate: issuer.pem}
`

func TestParse(t *testing.T) {
	c, err := config.Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Orders.MaxFailures != 5 || c.Keys.KEK != "kek" || c.HSM.Module == "" {
		t.Fatalf("defaults: %+v", c)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":     {good + "extra: 1\n", "field extra not found"},
		"nested unknown":  {strings.Replace(good, "token: segl", "token: segl, pin: 1234", 1), "field pin not found"},
		"missing listen":  {strings.Replace(good, "listen: 127.0.0.1:8443\n", "", 1), "listen is required"},
		"bad listen":      {strings.Replace(good, "127.0.0.1:8443", "8443", 1), "listen:"},
		"missing token":   {strings.Replace(good, "hsm: {token: segl}", "hsm: {}", 1), "hsm.token is required"},
		"missing CA":      {strings.Replace(good, ", client-ca: ca.pem", "", 1), "tls.client-ca is required"},
		"bad duration":    {good + "orders: {expiry: soon}\n", "not a duration"},
		"short expiry":    {good + "orders: {expiry: 1s}\n", "orders.expiry"},
		"officer no cert": {good + "officers: [{id: o, name: O}]\n", "officers[0].certificate is required"},
		"two documents":   {good + "---\nlisten: x\n", "more than one"},
		"empty":           {"", "empty"},
	} {
		_, err := config.Parse(strings.NewReader(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}
