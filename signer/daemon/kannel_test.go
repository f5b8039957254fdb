package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/plugins/sms/kannel/kanneltest"
	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/daemon/daemontest"
)

// smsAttempts lists the SMS attempts as an officer sees them.
func (e *env) smsAttempts() []admin.SMSView {
	e.t.Helper()
	var out struct{ SMS []admin.SMSView }
	if code := e.call(e.off, "GET", "/admin/v1/sms", nil, &out); code != 200 {
		e.t.Fatalf("GET /admin/v1/sms: %d", code)
	}
	return out.SMS
}

// waitSMS waits until every attempt is in one of the states.
func (e *env) waitSMS(n int, states ...string) []admin.SMSView {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		views := e.smsAttempts()
		done := 0
		for _, v := range views {
			for _, s := range states {
				if v.State == s {
					done++
				}
			}
		}
		if len(views) == n && done == n {
			return views
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("SMS attempts %+v; want %d, all %v", views, n, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The cardholder's SMS through a real Kannel: the fake SMSC behind it
// gets the text in the right coding, and its delivery report comes back
// through the plugin into the store.
func TestSMSOverKannel(t *testing.T) {
	k := kanneltest.Start(t)
	d := daemontest.StartWith(t, daemontest.Options{Adapters: []daemontest.Adapter{{
		Name: "kannel", Package: "github.com/segl/segl/cmd/segl-sms-kannel",
		Config: map[string]string{"url": k.SendSMS, "username": k.Username, "password-file": k.PasswordFile, "from": "SeglBank"},
	}}})
	e := &env{t: t, dev: d.Dev, d: d, addr: d.Addr, rp: clientFor(t, d.Dev.TLSCA, d.Dev.RPCert, d.Dev.RPKey), off: clientFor(t, d.Dev.TLSCA, d.Dev.Cert, d.Dev.Key)}
	e.createUser("karen", "hemmeligt1")
	e.call(e.off, "PUT", "/admin/v1/users/karen/phone", map[string]string{"phone": "+4512345678"}, nil)
	pay := func(amount, payee string) string {
		var o struct{ OrderRef string }
		if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]any{"userId": "karen", "endUserIp": "192.0.2.1",
			"payment": map[string]string{"amountMinor": amount, "currency": "DKK", "payee": payee}}, &o); code != 200 {
			t.Fatalf("auth: %d", code)
		}
		if code, sent := e.smsChallenge(o.OrderRef); code != 200 || sent["delivery"] != "sent" {
			t.Fatalf("sms challenge: %d %v", code, sent)
		}
		return o.OrderRef
	}

	ref := pay("12995", "Fakta")
	msgs := k.WaitMessages(t, 1)
	m := codeInText.FindStringSubmatch(msgs[0].Text)
	if m == nil || msgs[0].Text != "Code "+m[1]+" for DKK 129.95 at Fakta. Valid 5 min. Never share it." ||
		msgs[0].To != "+4512345678" || msgs[0].From != "SeglBank" || msgs[0].Coding != "text" {
		t.Fatalf("at the SMSC: %+v", msgs[0])
	}
	views := e.waitSMS(1, "delivered")
	if v := views[0]; v.Adapter != "kannel" || v.To != "+45 •••• ••78" || v.GatewayID == "" || v.OrderRef != ref {
		t.Errorf("the attempt: %+v", v)
	}
	e.factor(ref, "password", "hemmeligt1")
	if r := e.factor(ref, "dlcode", m[1]); !r.Accepted || r.Status != "complete" {
		t.Fatalf("the code from Kannel + password: %+v", r)
	}

	pay("4500", "Zoë's Café")
	msgs = k.WaitMessages(t, 2)
	if msgs[1].Coding != "ucs-2" || !codeInText.MatchString(msgs[1].Text) || !strings.HasSuffix(msgs[1].Text, " for DKK 45.00 at Zoë's Café. Valid 5 min. Never share it.") {
		t.Fatalf("Zoë's Café at the SMSC: %+v", msgs[1])
	}
	e.waitSMS(2, "delivered")
}
