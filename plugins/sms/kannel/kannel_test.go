package kannel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/plugins/sms/kannel"
	"github.com/segl/segl/plugins/sms/kannel/kanneltest"
)

func configure(t *testing.T, k *kanneltest.Kannel, change func(map[string]string)) *kannel.Kannel {
	t.Helper()
	g := kannel.New()
	s := map[string]string{"url": k.SendSMS, "username": k.Username, "password-file": k.PasswordFile, "from": "SeglBank"}
	if change != nil {
		change(s)
	}
	if _, err := g.Configure(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestRealKannel sends through a real Kannel and reads the messages at
// its fake SMSC and the delivery reports that come back.
func TestRealKannel(t *testing.T) {
	k := kanneltest.Start(t)
	g := configure(t, k, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan sms.Report, 16)
	go g.Reports(ctx, func(r sms.Report) { reports <- r })

	gsm := sms.Message{Key: "k1", To: "+4512345678", Text: "Code 481516 for DKK 129.95 at Fakta. Valid 5 min. Never share it. {€}", Encoding: sms.GSM7}
	ucs := sms.Message{Key: "k2", To: "+4587654321", Text: "Kode 481516: DKK 129,95 hos Zoë's Café. Gælder 5 min.", Encoding: sms.UCS2}
	for _, m := range []sms.Message{gsm, ucs} {
		id, err := g.Send(ctx, m)
		if err != nil {
			t.Fatalf("send %s: %v", m.Key, err)
		}
		again, err := g.Send(ctx, m)
		if err != nil || again != id {
			t.Fatalf("the same key again: %q, %v; want %q and nothing sent", again, err, id)
		}
	}
	ms := k.WaitMessages(t, 2)
	want := []kanneltest.Message{
		{From: "SeglBank", To: "+4512345678", Coding: "text", Text: gsm.Text},
		{From: "SeglBank", To: "+4587654321", Coding: "ucs-2", Text: ucs.Text},
	}
	for i, m := range ms {
		if m != want[i] {
			t.Errorf("message %d at the SMSC: %+v\nwant %+v", i, m, want[i])
		}
	}
	delivered := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(delivered) < 2 {
		select {
		case r := <-reports:
			if r.GatewayID != "kannel-"+r.Key {
				t.Errorf("report %+v: gateway id", r)
			}
			if r.State == sms.Delivered {
				delivered[r.Key] = true
			}
		case <-deadline:
			t.Fatalf("delivery reports for %v only", delivered)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(k.Messages(t)); n != 2 {
		t.Errorf("the SMSC received %d messages; a repeated key must send nothing", n)
	}
}

func TestRefusals(t *testing.T) {
	k := kanneltest.Start(t)
	ctx := context.Background()
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not-the-password\n"), 0o600)
	g := configure(t, k, func(s map[string]string) { s["password-file"] = wrong })
	_, err := g.Send(ctx, sms.Message{Key: "k1", To: "+4512345678", Text: "x", Encoding: sms.GSM7})
	if !errors.Is(err, sms.ErrRefused) || !strings.Contains(err.Error(), "Authorization failed") {
		t.Errorf("wrong password: %v; want a refusal naming Kannel's answer", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %v", err)
	}

	// Nobody listens: definitely not sent.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	g = configure(t, k, func(s map[string]string) { s["url"] = "http://" + addr + "/cgi-bin/sendsms" })
	secret := sms.Message{Key: "k2", To: "+4512345678", Text: "code 918273", Encoding: sms.GSM7}
	_, err = g.Send(ctx, secret)
	if !errors.Is(err, sms.ErrRefused) {
		t.Errorf("no Kannel: %v; want a refusal", err)
	}
	noSecrets := func(err error) {
		t.Helper()
		for _, s := range []string{"918273", "12345678", "dlr", "password"} {
			if err != nil && strings.Contains(err.Error(), s) {
				t.Errorf("the error shows %q, from the request URL: %v", s, err)
			}
		}
	}
	noSecrets(err)

	// Somebody reads the request and hangs up: the message may have
	// gone, so the outcome is unknown (and Go must not send it again).
	hangup, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hangup.Close()
	var requests atomic.Int32
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			requests.Add(1)
			c.Close()
		}
	}()
	g = configure(t, k, func(s map[string]string) { s["url"] = "http://" + hangup.Addr().String() + "/cgi-bin/sendsms" })
	for i := range 2 {
		secret.Key = fmt.Sprintf("h%d", i)
		_, err = g.Send(ctx, secret)
		if err == nil || errors.Is(err, sms.ErrRefused) {
			t.Errorf("hung up after the request: %v; want an unknown outcome", err)
		}
		noSecrets(err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("two sends reached the gateway %d times; a request must never be sent again by itself", n)
	}

	// Somebody takes the request and never answers: unknown, not refused.
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	g = configure(t, k, func(s map[string]string) { s["url"] = "http://" + ln.Addr().String() + "/cgi-bin/sendsms" })
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := g.Send(tctx, sms.Message{Key: "k3", To: "+4512345678", Text: "x", Encoding: sms.GSM7}); err == nil || errors.Is(err, sms.ErrRefused) {
		t.Errorf("no answer: %v; want an unknown outcome", err)
	}
}

func TestConfigure(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	good := map[string]string{"url": "http://127.0.0.1:13013/cgi-bin/sendsms", "username": "u", "password-file": pw, "from": "SeglBank"}
	for _, c := range []struct {
		change func(map[string]string)
		want   string
	}{
		{func(s map[string]string) { delete(s, "username"); delete(s, "from") }, "the setting from (the sender shown on the phone) is missing; the setting username"},
		{func(s map[string]string) { s["password"] = "inline" }, `unknown setting "password"`},
		{func(s map[string]string) { s["url"] = "ftp://x/" }, "is not an http(s) URL"},
		{func(s map[string]string) { s["url"] = "http://x/sendsms?username=u" }, "without a query"},
		{func(s map[string]string) { s["password-file"] = empty }, "is empty"},
		{func(s map[string]string) { s["password-file"] = empty + "-missing" }, "no such file"},
		{func(s map[string]string) { s["from"] = "Segl Bank A/S" }, "an SMS sender is"},
		{func(s map[string]string) { s["dlr-url"] = "http://x/?a=b" }, "dlr-url"},
	} {
		s := map[string]string{}
		for k, v := range good {
			s[k] = v
		}
		c.change(s)
		g := kannel.New()
		_, err := g.Configure(context.Background(), s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want %q", s, err, c.want)
		}
		g.Close()
	}
	g := kannel.New()
	defer g.Close()
	desc, err := g.Configure(context.Background(), good)
	if err != nil || strings.Contains(desc, "secret") {
		t.Errorf("good settings: %q, %v", desc, err)
	}
}

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		sent   bool
		refuse bool
	}{
		{202, "0: Accepted for delivery", true, false},
		{202, "3: Queued for later delivery", true, false},
		{403, "Authorization failed for sendsms", false, true},
		{400, "Missing receiver number, rejected", false, true},
		{503, "Sending failed.", false, true},
		{404, "Not found", false, true},
		{403, "Not routable. Do not try again.", false, true},
		{502, "Bad Gateway", false, false},
		{504, "Gateway Timeout", false, false},
		{500, "", false, false},
		{200, "<html>a proxy's page</html>", false, false},
		{202, "0: Accepted\x1b[2J", true, false},
	} {
		err := kannel.Answer(c.status, c.body)
		if (err == nil) != c.sent || errors.Is(err, sms.ErrRefused) != c.refuse {
			t.Errorf("%d %q: %v", c.status, c.body, err)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("the error keeps a control character: %q", err)
		}
		if err != nil && strings.Contains(err.Error(), "password") != strings.HasPrefix(c.body, "Authorization failed") {
			t.Errorf("%d %q: %v; the password hint belongs to an authorization failure only", c.status, c.body, err)
		}
	}
}

func tag(key string) string { return "tag-" + key }

func TestParseReport(t *testing.T) {
	for _, c := range []struct {
		query string
		state sms.State
		err   string
	}{
		{"key=k1&t=tag-k1&s=1&r=ACK%2F", sms.Delivered, ""},
		{"key=k1&t=tag-k1&s=8&r=ACK%2F", sms.Accepted, ""},
		{"key=k1&t=tag-k1&s=2&r=NACK%2F0x0b", sms.Failed, ""},
		{"key=k1&t=tag-k1&s=16&r=", sms.Failed, ""},
		{"key=k1&t=tag-k1&s=4&r=", 0, ""}, // buffered: nothing changes
		{"key=k1&t=tag-k2&s=1&r=", 0, "the tag does not match"},
		{"key=k1&s=1&r=", 0, "the tag does not match"},
		{"key=k1&t=tag-k1&s=1&s=2&r=", 0, "s is given 2 times"},
		{"key=k1&t=tag-k1&s=1&r=&extra=1", 0, `unknown parameter "extra"`},
		{"key=k1&t=tag-k1&s=32&r=", 0, "report type"},
		{"key=k1&t=tag-k1&s=0&r=", 0, "none of Kannel's"},
		{"key=k1&t=tag-k1&s=-1&r=", 0, "report type"},
		{"key=k%0A1&t=tag-k%0A1&s=1&r=", 0, "key"},
		{"key=k1&t=tag-k1&s=1&r=%ZZ", 0, "invalid URL escape"},
		{"key=k1&t=tag-k1&s=1&r=" + strings.Repeat("x", 3000), 0, "more than 2048"},
	} {
		rep, err := kannel.ParseReport(c.query, tag)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, kannel.ErrReport) {
				t.Errorf("%q: %v; want %q", c.query, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.query, err)
		case c.state == 0 && rep != nil, c.state != 0 && (rep == nil || rep.State != c.state || rep.Key != "k1"):
			t.Errorf("%q: %+v; want state %v", c.query, rep, c.state)
		}
	}
	rep, err := kannel.ParseReport("key=k1&t=tag-k1&s=2&r="+"NACK%0A%E2%80%AEforged", tag)
	if err != nil || rep.Reason != "NACK??forged" {
		t.Errorf("a reason with a newline and a bidi override: %+v, %v", rep, err)
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add("key=k1&t=tag-k1&s=1&r=ACK%2F")
	f.Add("key=k1&t=tag-k1&s=1&s=1")
	f.Add("r=%E2%80%AE&key=a&t=tag-a&s=24")
	f.Fuzz(func(t *testing.T, q string) {
		rep, err := kannel.ParseReport(q, tag)
		if err != nil {
			if rep != nil {
				t.Fatalf("%q: a report and an error", q)
			}
			return
		}
		if rep == nil {
			return
		}
		if rep.State != sms.Delivered && rep.State != sms.Failed && rep.State != sms.Accepted {
			t.Fatalf("%q: state %v", q, rep.State)
		}
		if len(rep.Reason) > 160 || strings.ContainsAny(rep.Reason, "\n\r\x1b\u202e") {
			t.Fatalf("%q: reason %q", q, rep.Reason)
		}
	})
}

// TestSettingsDocumented keeps docs/sms.md's table of settings whole.
func TestSettingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/sms.md")
	if err != nil {
		t.Fatal(err)
	}
	for key := range kannel.Settings {
		if !strings.Contains(string(doc), "| `"+key+"` |") {
			t.Errorf("docs/sms.md has no row for the setting %s", key)
		}
	}
}
