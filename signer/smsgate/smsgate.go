// Package smsgate is segld's side of SMS: users' mobile numbers and how
// they are shown, the texts of the codes, and sending through the SMS
// adapters (plugins) with failover.
//
// Adapters are tried in the configured order. The next one is tried only
// when a send was definitely not made: the adapter refused the message, or
// its plugin is down or broken. A send whose outcome is unknown — the
// deadline passed, the plugin died in the middle of it — is not sent again
// through another gateway (the user would get two codes, one maybe late):
// it is recorded as unknown, and the user may ask for a new code, which
// voids the old. Every attempt is a row in the store and an audit record;
// neither holds the text or the code.
package smsgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/clock"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/text"
)

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ParsePhone checks a mobile number in E.164 form ("+4512345678"); spaces
// are allowed between digits and dropped.
func ParsePhone(s string) (string, error) {
	p := strings.ReplaceAll(s, " ", "")
	if len(s) > 32 || !phoneRE.MatchString(p) {
		return "", errs.Invalid("phone must be a mobile number in E.164 form, like +4512345678")
	}
	return p, nil
}

// MaskPhone is a number as it is shown everywhere but the store: the
// country code and the last two digits ("+45 •••• ••78").
func MaskPhone(p string) string {
	if !phoneRE.MatchString(p) {
		return ""
	}
	cc := 1 + countryCodeLen(p[1:])
	hidden := len(p) - cc - 2
	mask := strings.Repeat("•", hidden)
	if hidden > 4 {
		mask = mask[:len("•")*4] + " " + mask[len("•")*4:]
	}
	return p[:cc] + " " + mask + p[len(p)-2:]
}

// twoDigitCodes are ITU-T E.164's two-digit country codes; 1 and 7 are the
// one-digit ones, and every other code has three digits.
var twoDigitCodes = map[string]bool{}

func init() {
	for _, c := range strings.Fields("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
		"60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98") {
		twoDigitCodes[c] = true
	}
}

// countryCodeLen is the length of the country code a number's digits
// begin with.
func countryCodeLen(digits string) int {
	switch {
	case digits[0] == '1' || digits[0] == '7':
		return 1
	case twoDigitCodes[digits[:2]]:
		return 2
	}
	return 3
}

// Adapter is one SMS adapter, a plugin.
type Adapter struct {
	Name   string
	Plugin Plugin
}

// Plugin is how the gate reaches an adapter's process (*host.Plugin).
type Plugin interface {
	// Get is the plugin's sms.Gateway, or host.ErrDown / host.ErrBroken
	// when there is none to call now.
	Get(ctx context.Context) (any, error)
	// Failed says a call found the plugin gone.
	Failed()
}

var _ Plugin = (*host.Plugin)(nil)

// Limits bound the codes sent.
type Limits struct {
	PerOrder int // messages per order; default 3
	PerHour  int // messages per user per hour; default 5
}

// Gate sends SMS through the adapters.
type Gate struct {
	Store    store.Store
	Adapters []Adapter
	Timeout  time.Duration // of each send; default 10 s
	Limits   Limits
	Clock    clock.Clock
	Log      *slog.Logger

	followers sync.WaitGroup
}

// ErrNotSent is a message no adapter took: definitely not sent.
var ErrNotSent = errors.New("the SMS was not sent: no SMS gateway took it")

// ErrUnknown is a message whose fate is unknown: it was not sent again.
var ErrUnknown = errors.New("the SMS may or may not have been sent")

// Message is one SMS to a user.
type Message struct {
	Order string // the order it belongs to, or ""
	User  string
	To    string // E.164
	Text  string
}

// Allow refuses a new message beyond the limits (errs.ErrLimited).
func (g *Gate) Allow(r store.Reader, order, user string) error {
	perOrder, perHour := g.Limits.PerOrder, g.Limits.PerHour
	if perOrder == 0 {
		perOrder = 3
	}
	if perHour == 0 {
		perHour = 5
	}
	n, m, err := r.CountSMS(order, user, g.Clock.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	if order != "" && n >= perOrder {
		return errs.Limited(0, "order %s was sent %d SMS codes already, the most allowed: start a new order", order, n)
	}
	if m >= perHour {
		return errs.Limited(time.Hour, "user %s was sent %d SMS in the last hour, the most allowed: try again later", user, m)
	}
	return nil
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Send sends m through the first adapter that takes it, recording each
// attempt. It returns the adapter's name; ErrNotSent when none took it,
// ErrUnknown when the outcome of an attempt is not known.
func (g *Gate) Send(ctx context.Context, m Message) (string, error) {
	enc, err := sms.Fit(m.Text)
	if err != nil {
		return "", err
	}
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	message := newID()
	masked := MaskPhone(m.To)
	var reasons []string
	for _, a := range g.Adapters {
		id := newID()
		now := g.Clock.Now()
		att := &store.SMSAttempt{ID: id, Message: message, Order: m.Order, User: m.User, ToMasked: masked, Adapter: a.Name,
			State: store.SMSSending, Created: now}
		if err := g.record(ctx, att, "sending"); err != nil {
			return "", err
		}
		raw, err := a.Plugin.Get(ctx)
		if err != nil {
			reasons = append(reasons, a.Name+": "+err.Error())
			if err := g.update(ctx, att, store.SMSFailed, "", err.Error()); err != nil {
				return "", err
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		gid, err := raw.(sms.Gateway).Send(sctx, sms.Message{Key: id, To: m.To, Text: m.Text, Encoding: enc})
		cancel()
		switch {
		case err == nil:
			if err := g.update(ctx, att, store.SMSAccepted, gid, ""); err != nil {
				return "", err
			}
			return a.Name, nil
		case errors.Is(err, sms.ErrRefused):
			reasons = append(reasons, a.Name+": "+err.Error())
			if err := g.update(ctx, att, store.SMSFailed, "", err.Error()); err != nil {
				return "", err
			}
			continue
		default:
			a.Plugin.Failed()
			if uerr := g.update(ctx, att, store.SMSUnknown, "", err.Error()); uerr != nil {
				return "", uerr
			}
			return a.Name, fmt.Errorf("%w (through %s: %v); it is not sent again: ask for a new code if it does not arrive", ErrUnknown, a.Name, err)
		}
	}
	if len(reasons) == 0 {
		reasons = []string{"no SMS adapter is configured (sms.adapters)"}
	}
	return "", fmt.Errorf("%w: %s", ErrNotSent, strings.Join(reasons, "; "))
}

// record writes a new attempt and its audit record.
func (g *Gate) record(ctx context.Context, a *store.SMSAttempt, what string) error {
	return g.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateSMSAttempt(a); err != nil {
			return err
		}
		_, err := tx.Audit(audit.Record{Time: a.Created, Event: audit.SMSSending, Actor: "system", Subject: "user:" + a.User, Outcome: "ok",
			Details: map[string]string{"order": a.Order, "attempt": a.ID, "message": a.Message, "adapter": a.Adapter, "to": a.ToMasked}})
		return err
	})
}

// update moves an attempt on, with its audit record.
func (g *Gate) update(ctx context.Context, a *store.SMSAttempt, state store.SMSState, gatewayID, reason string) error {
	gatewayID, reason = text.Printable(gatewayID, 100), text.Printable(reason, 200)
	now := g.Clock.Now()
	return g.Store.Update(ctx, func(tx store.Tx) error {
		changed, err := tx.UpdateSMSAttempt(a.ID, state, gatewayID, reason, now)
		if err != nil || !changed {
			return err // a delivery report came first
		}
		outcome := "ok"
		if state == store.SMSFailed || state == store.SMSUnknown {
			outcome = "error"
		}
		details := map[string]string{"attempt": a.ID, "adapter": a.Adapter, "state": string(state)}
		if gatewayID != "" {
			details["gatewayId"] = gatewayID
		}
		if reason != "" {
			details["reason"] = reason
		}
		_, err = tx.Audit(audit.Record{Time: now, Event: audit.SMSState, Actor: "system", Subject: "user:" + a.User, Outcome: outcome, Details: details})
		return err
	})
}

// Run follows each adapter's delivery reports into the store until ctx
// ends, subscribing again when a plugin comes back; Wait waits for that.
func (g *Gate) Run(ctx context.Context) {
	for _, a := range g.Adapters {
		g.followers.Go(func() { g.follow(ctx, a) })
	}
}

// Wait returns when the followers Run started have stopped.
func (g *Gate) Wait() { g.followers.Wait() }

func (g *Gate) follow(ctx context.Context, a Adapter) {
	for ctx.Err() == nil {
		raw, err := a.Plugin.Get(ctx)
		if err == nil {
			err = raw.(sms.Gateway).Reports(ctx, func(r sms.Report) {
				state := map[sms.State]store.SMSState{sms.Accepted: store.SMSAccepted, sms.Delivered: store.SMSDelivered, sms.Failed: store.SMSFailed}[r.State]
				if state == "" {
					return
				}
				// A plugin's words go to the store, the audit and an
				// officer's terminal: only printable ones, and not many.
				r.GatewayID, r.Reason = text.Printable(r.GatewayID, 100), text.Printable(r.Reason, 200)
				now := g.Clock.Now()
				uerr := g.Store.Update(ctx, func(tx store.Tx) error {
					changed, err := tx.UpdateSMSAttempt(r.Key, state, r.GatewayID, r.Reason, now)
					if err != nil || !changed {
						return err // not ours, or delivered already
					}
					_, err = tx.Audit(audit.Record{Time: now, Event: audit.SMSState, Actor: "gateway:" + a.Name, Subject: "sms:" + r.Key, Outcome: "ok",
						Details: map[string]string{"state": string(state), "gatewayId": r.GatewayID, "reason": r.Reason}})
					return err
				})
				if uerr != nil && ctx.Err() == nil {
					g.Log.Error("record an SMS delivery report", "adapter", a.Name, "err", uerr)
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
