package smsgate_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
	"github.com/segl/segl/tokens/dlcode"
)

func TestPhones(t *testing.T) {
	for in, want := range map[string]string{"+4512345678": "+45 •••• ••78", "+45 12 34 56 78": "+45 •••• ••78", "+14155550123": "+1 •••• ••••23",
		"+447700900123": "+44 •••• ••••23"} {
		p, err := smsgate.ParsePhone(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := smsgate.MaskPhone(p); got != want {
			t.Errorf("MaskPhone(%s) = %q, want %q", p, got, want)
		}
	}
	for _, bad := range []string{"", "4512345678", "+0512345678", "+45123", "+45123456789012345", "+45 1234 5678\n", "+45\u202e12345678", "+４５12345678"} {
		if _, err := smsgate.ParsePhone(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"+4512345678", "+45 12 34 56 78", "+1", "++", "+4512345678901234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := smsgate.ParsePhone(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "+") || strings.ContainsFunc(p[1:], func(r rune) bool { return r < '0' || r > '9' }) || len(p) > 16 {
			t.Fatalf("%q parsed as %q", s, p)
		}
		if m := smsgate.MaskPhone(p); m == "" || strings.Contains(m, p[len(p)-6:len(p)-2]) && len(p) > 9 {
			t.Fatalf("%q masked as %q", p, m)
		}
	})
}

func TestTexts(t *testing.T) {
	en := smsgate.Texts{Language: "en", Issuer: "Bank", Minutes: 5, Digits: 6}
	p := &dlcode.Payment{OrderRef: "o", AmountMinor: "12995", Currency: "DKK", Payee: "Fakta"}
	if got := en.Render("481516", p); got != "Code 481516 for DKK 129.95 at Fakta. Valid 5 min. Never share it." {
		t.Fatal(got)
	}
	da := en
	da.Language = "da"
	if got := da.Render("481516", p); got != "Kode 481516 til DKK 129,95 hos Fakta. Gyldig 5 min. Del den aldrig." {
		t.Fatal(got)
	}
	for _, tc := range []struct{ minor, cur, want string }{{"500", "JPY", "JPY 500"}, {"1500", "KWD", "KWD 1.500"}, {"5", "EUR", "EUR 0.05"}, {"0", "DKK", "DKK 0.00"}} {
		if got := en.Render("000000", &dlcode.Payment{OrderRef: "o", AmountMinor: tc.minor, Currency: tc.cur, Payee: "X"}); !strings.Contains(got, " "+tc.want+" ") {
			t.Errorf("%s %s: %q", tc.minor, tc.cur, got)
		}
	}
	if got := en.Render("123456", &dlcode.Payment{OrderRef: "o"}); got != "Code 123456 to log in to Bank. Valid 5 min. Never share it." {
		t.Fatal(got)
	}
	if err := en.CheckPayment(dlcode.Payment{OrderRef: "o", AmountMinor: "4500", Currency: "DKK", Payee: "Zoë's Café"}); err != nil {
		t.Fatalf("Zoë's Café: %v", err)
	}
	if err := en.CheckPayment(dlcode.Payment{OrderRef: "o", AmountMinor: "4500", Currency: "DKK", Payee: strings.Repeat("x", 120)}); err == nil {
		t.Fatal("a payee that overflows the SMS was accepted")
	}
	for _, bad := range []string{"Pay {amount} to {payee}", "Code {code} for {amount}", "Code {code} {amount} {payee} {secret}"} {
		if smsgate.CheckTemplate(bad, true) == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
	if smsgate.CheckTemplate("Code {code}.", false) != nil || smsgate.CheckTemplate("Code {code} {amount}", false) == nil {
		t.Fatal("login templates")
	}
}

// fake is an adapter that refuses, or never answers: the faults a real
// gateway rarely gives on cue.
type fake struct {
	err    error
	down   bool
	sent   []sms.Message
	failed int
}

func (f *fake) Get(context.Context) (any, error) {
	if f.down {
		return nil, host.ErrDown
	}
	return f, nil
}
func (f *fake) Failed() { f.failed++ }
func (f *fake) Configure(context.Context, map[string]string) (string, error) {
	return "fake", nil
}
func (f *fake) Send(_ context.Context, m sms.Message) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	f.sent = append(f.sent, m)
	return "gw-" + m.Key, nil
}
func (f *fake) Reports(ctx context.Context, _ func(sms.Report)) error {
	<-ctx.Done()
	return ctx.Err()
}

func gate(t *testing.T, adapters ...smsgate.Adapter) (*smsgate.Gate, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &smsgate.Gate{Store: db, Adapters: adapters, Clock: clock.System{}}, db
}

func attempts(t *testing.T, db *sqlite.DB) []*store.SMSAttempt {
	t.Helper()
	var as []*store.SMSAttempt
	db.View(context.Background(), func(r store.Reader) (err error) { as, err = r.SMSAttempts("", 100); return err })
	return as
}

func TestFailover(t *testing.T) {
	msg := smsgate.Message{Order: "o", User: "u", To: "+4512345678", Text: "Code 123456"}
	// Down, then refused: the third sends; every attempt recorded.
	down, refuses, works := &fake{down: true}, &fake{err: sms.ErrRefused}, &fake{}
	g, db := gate(t, smsgate.Adapter{Name: "a", Plugin: down}, smsgate.Adapter{Name: "b", Plugin: refuses}, smsgate.Adapter{Name: "c", Plugin: works})
	name, err := g.Send(context.Background(), msg)
	if err != nil || name != "c" || len(works.sent) != 1 {
		t.Fatalf("%q %v", name, err)
	}
	states := map[string]store.SMSState{}
	for _, a := range attempts(t, db) {
		states[a.Adapter] = a.State
		if a.ToMasked != "+45 •••• ••78" {
			t.Fatalf("attempt %+v", a)
		}
	}
	if states["a"] != store.SMSFailed || states["b"] != store.SMSFailed || states["c"] != store.SMSAccepted {
		t.Fatalf("attempts %v", states)
	}
	// An unknown outcome is not sent again elsewhere.
	lost, spare := &fake{err: errors.New("transport is closing")}, &fake{}
	g, db = gate(t, smsgate.Adapter{Name: "a", Plugin: lost}, smsgate.Adapter{Name: "b", Plugin: spare})
	if _, err := g.Send(context.Background(), msg); !errors.Is(err, smsgate.ErrUnknown) || len(spare.sent) != 0 || lost.failed != 1 {
		t.Fatalf("unknown: %v, spare sent %d", err, len(spare.sent))
	}
	if as := attempts(t, db); len(as) != 1 || as[0].State != store.SMSUnknown {
		t.Fatalf("attempts %+v", as)
	}
	// A gateway's words are cleaned before they are kept.
	g, db = gate(t, smsgate.Adapter{Name: "a", Plugin: &fake{err: fmt.Errorf("%w: NACK\n\x1b[2J\u202eforged", sms.ErrRefused)}})
	g.Send(context.Background(), msg)
	if as := attempts(t, db); len(as) != 1 || strings.ContainsAny(as[0].Reason, "\n\x1b\u202e") || !strings.Contains(as[0].Reason, "NACK??[2J?forged") {
		t.Fatalf("a reason with control and bidi characters kept as %q", as[0].Reason)
	}
	// Nobody takes it.
	g, _ = gate(t, smsgate.Adapter{Name: "a", Plugin: &fake{err: sms.ErrRefused}})
	if _, err := g.Send(context.Background(), msg); !errors.Is(err, smsgate.ErrNotSent) {
		t.Fatalf("refused everywhere: %v", err)
	}
	// A text that fits no SMS is not sent at all.
	if _, err := g.Send(context.Background(), smsgate.Message{User: "u", To: "+4512345678", Text: strings.Repeat("x", 161)}); err == nil {
		t.Fatal("an overlong text was sent")
	}
}
