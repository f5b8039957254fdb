// Package kannel is the SMS adapter for a Kannel gateway: it hands each
// message to smsbox's HTTP sendsms interface and takes the delivery
// reports back on a small listener of its own, whose URL it gives Kannel
// with every message (dlr-url).
//
// A report's URL carries segld's key for the message and a MAC over it
// made with the sendsms password, so a report is taken only from whoever
// was given the URL — Kannel — and reports for messages sent before the
// plugin restarted still match. The MAC covers the key, not the report
// type, which Kannel fills in later: whoever reads Kannel's logs can
// report a message it knows the key of as delivered or failed, which
// changes what segl sms list shows and nothing that a user can approve. Set dlr-listen to a fixed address in
// production: with the default (any free loopback port) the reports of
// messages sent before a restart go to a port nobody listens on.
package kannel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/text"
)

// Kannel is a Gateway through Kannel's sendsms interface.
type Kannel struct {
	client   *http.Client
	sendsms  *url.URL
	username string
	password string
	from     string
	smsc     string
	dlrBase  string // the listener's URL as Kannel reaches it
	mac      []byte

	srv *http.Server
	ln  net.Listener

	reports chan sms.Report
	mu      sync.Mutex
	sent    map[string]time.Time // keys Kannel took, for a repeated Send
}

// rememberSent bounds what the adapter keeps of the keys it sent: a key
// is asked again only right after its first send (a caller that lost the
// answer), so the oldest go when there are too many.
const (
	rememberSent = 10000
	rememberFor  = time.Hour
)

var _ sms.Gateway = (*Kannel)(nil)

// New returns an adapter that Configure sets up.
func New() *Kannel {
	// No keep-alive: Go sends a GET again by itself when a reused
	// connection turns out closed, and a resent sendsms is a second SMS.
	tr := &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 30 * time.Second}
	return &Kannel{client: &http.Client{Transport: tr}, reports: make(chan sms.Report, 4096), sent: map[string]time.Time{}}
}

// Settings are the plugin's settings, each described for its error.
var Settings = map[string]string{
	"url":           "smsbox's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms",
	"username":      "the sendsms-user's username",
	"password-file": "a file holding the sendsms-user's password",
	"from":          "the sender shown on the phone",
	"smsc":          "the smsc-id to route through (optional)",
	"dlr-listen":    "the address to take delivery reports on (default 127.0.0.1:0, any free port)",
	"dlr-url":       "the report listener's URL as Kannel reaches it (default http://dlr-listen)",
}

// Configure checks the settings, reads the password, and starts the
// report listener.
func (k *Kannel) Configure(_ context.Context, s map[string]string) (string, error) {
	if k.ln != nil {
		return "", errors.New("kannel: configured already")
	}
	var problems []string
	for key := range s {
		if _, ok := Settings[key]; !ok {
			problems = append(problems, fmt.Sprintf("unknown setting %q", key))
		}
	}
	for _, key := range []string{"url", "username", "password-file", "from"} {
		if s[key] == "" {
			problems = append(problems, fmt.Sprintf("the setting %s (%s) is missing", key, Settings[key]))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return "", fmt.Errorf("kannel: %s", strings.Join(problems, "; "))
	}
	u, err := url.Parse(s["url"])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("kannel: url %q is not an http(s) URL without a query", s["url"])
	}
	pw, err := os.ReadFile(s["password-file"])
	if err != nil {
		return "", fmt.Errorf("kannel: read the password: %w", err)
	}
	password := strings.TrimRight(string(pw), "\r\n")
	if password == "" {
		return "", fmt.Errorf("kannel: the password file %s is empty", s["password-file"])
	}
	if err := checkFrom(s["from"]); err != nil {
		return "", err
	}
	listen := s["dlr-listen"]
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("kannel: listen for delivery reports: %w", err)
	}
	base := s["dlr-url"]
	if base == "" {
		base = "http://" + ln.Addr().String()
	} else if b, err := url.Parse(base); err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" || b.RawQuery != "" {
		ln.Close()
		return "", fmt.Errorf("kannel: dlr-url %q is not an http(s) URL without a query", base)
	}
	k.sendsms, k.username, k.password, k.from, k.smsc = u, s["username"], password, s["from"], s["smsc"]
	k.dlrBase = strings.TrimRight(base, "/") + "/dlr"
	mac := hmac.New(sha256.New, []byte(password))
	mac.Write([]byte("segl kannel delivery report"))
	k.mac = mac.Sum(nil)
	k.ln = ln
	k.srv = &http.Server{Handler: http.HandlerFunc(k.serveReport), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 8 << 10}
	go k.srv.Serve(ln)
	return fmt.Sprintf("kannel %s as %s, reports on %s", u.Redacted(), k.username, ln.Addr()), nil
}

// checkFrom refuses a sender an SMSC would mangle: 1 to 11 letters,
// digits and spaces (an alphanumeric sender), or a number with + and up
// to 15 digits.
var senderPattern = regexp.MustCompile(`^(\+?[0-9]{1,15}|[A-Za-z0-9 ]{1,11})$`)

func checkFrom(from string) error {
	if senderPattern.MatchString(from) {
		return nil
	}
	return fmt.Errorf("kannel: from %q: an SMS sender is 1 to 11 letters, digits and spaces, or a number of up to 15 digits", from)
}

// keyPattern is what a key and a gateway id may be: characters that go
// into a URL as they are, because Kannel reads every % in a dlr-url as
// one of its own escapes.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Send hands the message to Kannel. Kannel's answer "0: Accepted for
// delivery" or "3: Queued for later delivery" is a send; an error of
// Kannel's own (400, 401, 403, 404, 503), or a connection that was never
// made, is a refusal; any other answer, or none once the request went
// out, is an unknown.
func (k *Kannel) Send(ctx context.Context, m sms.Message) (string, error) {
	if k.ln == nil {
		return "", fmt.Errorf("%w: kannel: not configured", sms.ErrRefused)
	}
	if !keyPattern.MatchString(m.Key) {
		return "", fmt.Errorf("%w: kannel: key %q is not 1 to 64 of A-Z a-z 0-9 _ -", sms.ErrRefused, m.Key)
	}
	id := "kannel-" + m.Key
	k.mu.Lock()
	_, again := k.sent[m.Key]
	k.mu.Unlock()
	if again {
		return id, nil
	}
	q := url.Values{
		"username": {k.username},
		"password": {k.password},
		"from":     {k.from},
		"to":       {m.To},
		"text":     {m.Text},
		"charset":  {"UTF-8"},
		"dlr-mask": {"31"},
		"dlr-url":  {k.reportURL(m.Key)},
		"coding":   {map[sms.Encoding]string{sms.GSM7: "0", sms.UCS2: "2"}[m.Encoding]},
	}
	if q.Get("coding") == "" {
		return "", fmt.Errorf("%w: kannel: encoding %s is not one Kannel is given", sms.ErrRefused, m.Encoding)
	}
	if k.smsc != "" {
		q.Set("smsc", k.smsc)
	}
	u := *k.sendsms
	u.RawQuery = q.Encode()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: kannel: %v", sms.ErrRefused, err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		// The URL holds the text with the code, the number and the
		// password: the error says only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if !wrote.Load() {
			return "", fmt.Errorf("%w: kannel: sendsms at %s: %s", sms.ErrRefused, k.sendsms.Redacted(), redact(err, k.password))
		}
		return "", fmt.Errorf("kannel: no answer to sendsms at %s, the message may have gone: %s", k.sendsms.Redacted(), redact(err, k.password))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", fmt.Errorf("kannel: the answer to sendsms broke off, the message may have gone: %v", err)
	}
	if err := Answer(resp.StatusCode, strings.TrimSpace(string(body))); err != nil {
		return "", err
	}
	k.remember(m.Key, time.Now())
	return id, nil
}

// remember keeps key as sent, forgetting keys older than rememberFor, or
// the oldest, when it keeps too many.
func (k *Kannel) remember(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.sent) >= rememberSent {
		var oldest string
		for kk, t := range k.sent {
			if now.Sub(t) > rememberFor {
				delete(k.sent, kk)
			} else if oldest == "" || t.Before(k.sent[oldest]) {
				oldest = kk
			}
		}
		if len(k.sent) >= rememberSent {
			delete(k.sent, oldest)
		}
	}
	k.sent[key] = now
}

// Answer reads smsbox's answer to sendsms: nil when it took the message,
// an error wrapping sms.ErrRefused when it did not, and an error without
// it when the answer does not say.
func Answer(status int, body string) error {
	first, _, _ := strings.Cut(body, "\n")
	first = text.Printable(first, 200)
	switch {
	case status/100 == 2 && (strings.HasPrefix(first, "0: ") || strings.HasPrefix(first, "3: ")):
		return nil
	case strings.HasPrefix(first, "Authorization failed"):
		return fmt.Errorf("%w: kannel: sendsms answered %d %q (check username and password-file against the sendsms-user group)", sms.ErrRefused, status, first)
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: kannel: sendsms answered 404 %q (check the url setting: smsbox's sendsms path is /cgi-bin/sendsms)", sms.ErrRefused, first)
	case status == http.StatusBadRequest, status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: kannel: sendsms answered %d %q", sms.ErrRefused, status, first)
	default:
		// A 502 or 504 from a proxy in between says nothing of whether
		// Kannel took the message.
		return fmt.Errorf("kannel: sendsms answered %d %q, which does not say whether it took the message", status, first)
	}
}

// redact keeps the password, which is in the URL, out of an error.
func redact(err error, password string) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), url.QueryEscape(password), "•••"), password, "•••")
}

func (k *Kannel) tag(key string) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// reportURL is the dlr-url for a message: Kannel fills in %d (the report
// type) and %A (the SMSC's answer).
func (k *Kannel) reportURL(key string) string {
	return k.dlrBase + "?key=" + key + "&t=" + k.tag(key) + "&s=%d&r=%A"
}

func (k *Kannel) report(r sms.Report) {
	select {
	case k.reports <- r:
	default: // nobody has listened for a long time; the store keeps the state it has
	}
}

func (k *Kannel) serveReport(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/dlr" || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		http.NotFound(w, r)
		return
	}
	rep, err := ParseReport(r.URL.RawQuery, k.tag)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rep != nil {
		k.report(*rep)
	}
	io.WriteString(w, "ok\n")
}

// Reports passes the delivery reports on as they come.
func (k *Kannel) Reports(ctx context.Context, fn func(sms.Report)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-k.reports:
			fn(r)
		}
	}
}

// Close stops the report listener.
func (k *Kannel) Close() error {
	if k.srv == nil {
		return nil
	}
	return k.srv.Close()
}

// Report types, the dlr-mask bits Kannel puts in %d.
const (
	dlrDelivered = 1
	dlrFailed    = 2
	dlrBuffered  = 4
	dlrSMSC      = 8
	dlrRejected  = 16
)

// ErrReport is a delivery report callback that is not one.
var ErrReport = errors.New("not a delivery report")

// ParseReport reads a report callback's query: key, t (the key's tag,
// checked with tag), s (the report type) and r (the SMSC's answer), each
// exactly once. A report that changes nothing (a buffered message) is
// nil without an error.
func ParseReport(rawQuery string, tag func(key string) string) (*sms.Report, error) {
	if len(rawQuery) > 2048 {
		return nil, fmt.Errorf("%w: the query is %d bytes, more than 2048", ErrReport, len(rawQuery))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReport, err)
	}
	for name, v := range q {
		switch name {
		case "key", "t", "s", "r":
		default:
			return nil, fmt.Errorf("%w: unknown parameter %q", ErrReport, text.Printable(name, 40))
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: %s is given %d times", ErrReport, name, len(v))
		}
	}
	key := q.Get("key")
	if !keyPattern.MatchString(key) {
		return nil, fmt.Errorf("%w: key %q", ErrReport, text.Printable(key, 70))
	}
	if !hmac.Equal([]byte(q.Get("t")), []byte(tag(key))) {
		return nil, fmt.Errorf("%w: the tag does not match the key", ErrReport)
	}
	s, err := strconv.Atoi(q.Get("s"))
	if err != nil || s < 0 || s > 31 {
		return nil, fmt.Errorf("%w: report type %q", ErrReport, text.Printable(q.Get("s"), 20))
	}
	rep := &sms.Report{Key: key, GatewayID: "kannel-" + key, Reason: text.Printable(q.Get("r"), 160)}
	switch {
	case s&dlrDelivered != 0:
		rep.State = sms.Delivered
	case s&(dlrFailed|dlrRejected) != 0:
		rep.State = sms.Failed
	case s&dlrSMSC != 0:
		rep.State = sms.Accepted
	case s&dlrBuffered != 0:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: report type %d is none of Kannel's", ErrReport, s)
	}
	return rep, nil
}
