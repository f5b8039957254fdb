package main

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segl/segl/signer/app"
	appclient "github.com/segl/segl/signer/app/client"
	"github.com/segl/segl/tokens/otp"
)

// A worker is one simulated client: its own user (one pending order per
// user is the rule), its own OTP token and code cards, so that workers
// never contend on one counter or one card.
type worker interface {
	// prepare runs before each order, outside its timing: what an
	// officer would do between logins (a new user when the old one has
	// had the challenges an hour allows).
	prepare(ctx context.Context) error
	// order runs one order to its end and checks every answer; an error
	// is a failed order.
	order(ctx context.Context) error
}

// flowDef is a flow the harness can drive.
type flowDef struct {
	name  string
	about string
	// bound is the intrinsic cost the flow is set against by default.
	bound string
	setup func(ctx context.Context, e *env, n int) ([]worker, error)
}

var flows = []flowDef{
	{"auth-otp", "auth order: password + HOTP (tokens with known seeds imported as PSKC, codes computed here)", "argon2id", setupAuthOTP},
	{"sign-codecard", "sign order: password + code card; the CMS in completionData is verified", "argon2id", setupSignCodeCard},
	{"app", "auth order approved in the code app (signer/app/client), activated with password + code card", "", setupApp},
	{"loop", "start, collect, cancel: the order machinery alone", "store", setupLoop},
}

func flowByName(name string) (flowDef, bool) {
	for _, f := range flows {
		if f.name == name {
			return f, true
		}
	}
	return flowDef{}, false
}

// env is what every flow uses.
type env struct {
	rp, off *api
	apps    []*appclient.Client
	appNext atomic.Uint64
	ver     *verifier
	run     string // this run's prefix of user IDs and token serials
	// challengeLimit is orders.challenges-per-hour: a user who reached it
	// is replaced by a new one.
	challengeLimit int
	rotations      atomic.Int64 // users replaced so
	setupPar       int
}

const (
	endUserIP = "192.0.2.1"
	password  = "load harness password 1"
)

func (e *env) app() *appclient.Client {
	return e.apps[(e.appNext.Add(1)-1)%uint64(len(e.apps))]
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// parallel runs fn(i) for i < n, par at a time, and returns the first
// error.
func parallel(ctx context.Context, n, par int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// newUser registers a user through the admin API: with the password when
// pw is not empty (argon2id on the daemon), always with a signing key
// made in the HSM.
func (e *env) newUser(ctx context.Context, id, pw string) error {
	body := map[string]string{"id": id, "name": "Load " + id}
	if pw != "" {
		body["password"] = pw
	}
	return e.off.call(ctx, "POST", "/admin/v1/users", body, nil)
}

// card is a code card's codes, by key number.
type card struct {
	serial string
	codes  map[string]string
}

type issuedCard struct {
	Serial  string `json:"serial"`
	UserID  string `json:"userId"`
	Status  string `json:"status"`
	Entries []struct {
		Key  string `json:"key"`
		Code string `json:"code"`
	} `json:"entries"`
}

func (c issuedCard) card() (*card, error) {
	if len(c.Entries) != 148 {
		return nil, fmt.Errorf("code card %s came with %d entries, not 148", c.Serial, len(c.Entries))
	}
	out := &card{serial: c.Serial, codes: map[string]string{}}
	for _, en := range c.Entries {
		out.codes[en.Key] = en.Code
	}
	return out, nil
}

func (e *env) issueCard(ctx context.Context, user string) (*card, error) {
	var c issuedCard
	if err := e.off.call(ctx, "POST", "/admin/v1/codecards", map[string]string{"userId": user}, &c); err != nil {
		return nil, err
	}
	return c.card()
}

// printCard fetches the codes of a card segld issued by itself when the
// user's card ran low: what an officer prints and posts.
func (e *env) printCard(ctx context.Context, serial string) (*card, error) {
	var c issuedCard
	if err := e.off.call(ctx, "POST", "/admin/v1/codecards/"+serial+"/print", nil, &c); err != nil {
		return nil, err
	}
	return c.card()
}

type startResp struct {
	OrderRef string `json:"orderRef"`
}

type factorResp struct {
	OrderRef string `json:"orderRef"`
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
	HintCode string `json:"hintCode"`
}

type collectResp struct {
	OrderRef       string      `json:"orderRef"`
	Status         string      `json:"status"`
	HintCode       string      `json:"hintCode"`
	CompletionData *completion `json:"completionData"`
}

func (e *env) start(ctx context.Context, kind string, body map[string]string) (string, error) {
	var s startResp
	if err := e.rp.call(ctx, "POST", "/rp/v1/"+kind, body, &s); err != nil {
		return "", err
	}
	if s.OrderRef == "" {
		return "", fmt.Errorf("POST /rp/v1/%s: no orderRef", kind)
	}
	return s.OrderRef, nil
}

// factor submits a factor and wants it accepted with the order in state
// want afterwards.
func (e *env) factor(ctx context.Context, ref, typ, value, want string) error {
	var f factorResp
	if err := e.rp.call(ctx, "POST", "/rp/v1/factor", map[string]string{"orderRef": ref, "type": typ, "value": value}, &f); err != nil {
		return err
	}
	if !f.Accepted || f.Status != want || f.OrderRef != ref {
		return fmt.Errorf("factor %s: accepted %v, status %s (hint %s), want accepted and %s", typ, f.Accepted, f.Status, f.HintCode, want)
	}
	return nil
}

func (e *env) collect(ctx context.Context, ref string) (*collectResp, error) {
	var c collectResp
	if err := e.rp.call(ctx, "POST", "/rp/v1/collect", map[string]string{"orderRef": ref}, &c); err != nil {
		return nil, err
	}
	if c.OrderRef != ref {
		return nil, fmt.Errorf("collect of %s answered for %q", ref, c.OrderRef)
	}
	return &c, nil
}

// complete collects ref and wants it complete for user.
func (e *env) complete(ctx context.Context, ref, user string) (*completion, error) {
	c, err := e.collect(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c.Status != "complete" || c.CompletionData == nil {
		return nil, fmt.Errorf("collect: status %s (hint %s), want complete", c.Status, c.HintCode)
	}
	if c.CompletionData.User.UserID != user {
		return nil, fmt.Errorf("collect: completionData is for %q, not %q", c.CompletionData.User.UserID, user)
	}
	return c.CompletionData, nil
}

// abandon cancels an order a failure left pending, so that the worker's
// user can start the next one; its error does not matter.
// withOrder starts an order and runs steps on it; an order whose steps
// fail is abandoned, so that the user's next order can start.
func (e *env) withOrder(ctx context.Context, kind string, body map[string]string, steps func(ref string) error) error {
	ref, err := e.start(ctx, kind, body)
	if err != nil {
		return err
	}
	if err := steps(ref); err != nil {
		e.abandon(ref)
		return err
	}
	return nil
}

func (e *env) abandon(ref string) {
	if ref == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.rp.call(ctx, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref}, nil)
}

// ---- auth-otp ----

// hmacSeed is an HOTP seed in memory: the harness plays the token.
type hmacSeed []byte

func (k hmacSeed) Sum(h crypto.Hash, msg []byte) ([]byte, error) {
	m := hmac.New(h.New, k)
	m.Write(msg)
	return m.Sum(nil), nil
}

// pskcFile is a plaintext PSKC batch (RFC 6030 figure 2's form) of HOTP
// tokens, SHA-1, 6 digits, counter 0.
func pskcFile(serials []string, seeds [][]byte) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">` + "\n")
	for i, s := range serials {
		fmt.Fprintf(&b, ` <KeyPackage>
  <DeviceInfo><Manufacturer>Segl load harness</Manufacturer><SerialNo>%s</SerialNo></DeviceInfo>
  <Key Id="%d" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
   <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
   <Data><Secret><PlainValue>%s</PlainValue></Secret><Counter><PlainValue>0</PlainValue></Counter></Data>
  </Key>
 </KeyPackage>
`, s, i+1, base64.StdEncoding.EncodeToString(seeds[i]))
	}
	b.WriteString("</KeyContainer>\n")
	return []byte(b.String())
}

type otpWorker struct {
	e       *env
	user    string
	seed    hmacSeed
	counter uint64
}

func setupAuthOTP(ctx context.Context, e *env, n int) ([]worker, error) {
	ws := make([]*otpWorker, n)
	serials, seeds := make([]string, n), make([][]byte, n)
	for i := range n {
		seed := make([]byte, 20)
		rand.Read(seed)
		serials[i], seeds[i] = fmt.Sprintf("%s-%04d", strings.ToUpper(e.run), i), seed
		ws[i] = &otpWorker{e: e, user: fmt.Sprintf("%s-otp-%04d", e.run, i), seed: seed}
	}
	base := e.off.lb.pick()
	if err := e.off.callAt(ctx, base, "POST", "/admin/v1/tokens", "application/pskc+xml", pskcFile(serials, seeds), nil); err != nil {
		return nil, fmt.Errorf("import the tokens: %w", err)
	}
	err := parallel(ctx, n, e.setupPar, func(ctx context.Context, i int) error {
		if err := e.newUser(ctx, ws[i].user, password); err != nil {
			return err
		}
		return e.off.call(ctx, "POST", "/admin/v1/tokens/"+serials[i], map[string]string{"action": "assign", "userId": ws[i].user}, nil)
	})
	out := make([]worker, n)
	for i, w := range ws {
		out[i] = w
	}
	return out, err
}

func (w *otpWorker) prepare(context.Context) error { return nil }

func (w *otpWorker) order(ctx context.Context) error {
	return w.e.withOrder(ctx, "auth", map[string]string{"userId": w.user, "endUserIp": endUserIP, "userVisibleData": b64("Log in to Segl Bank")}, func(ref string) error {
		if err := w.e.factor(ctx, ref, "password", password, "pending"); err != nil {
			return err
		}
		code, err := otp.HOTP(w.seed, otp.SHA1, w.counter, 6)
		if err != nil {
			return err
		}
		// The code is spent once sent, whatever the answer: the next order
		// uses the next counter (a skipped one is within the look-ahead).
		w.counter++
		if err := w.e.factor(ctx, ref, "otp", code, "complete"); err != nil {
			return err
		}
		c, err := w.e.complete(ctx, ref, w.user)
		if err != nil {
			return err
		}
		return w.e.ver.assertion(c.Assertion, w.user, ref, time.Now())
	})
}

// ---- sign-codecard ----

type cardWorker struct {
	e          *env
	prefix     string
	gen        int
	user       string
	challenges int
	cards      map[string]*card
}

func setupSignCodeCard(ctx context.Context, e *env, n int) ([]worker, error) {
	ws := make([]worker, n)
	err := parallel(ctx, n, e.setupPar, func(ctx context.Context, i int) error {
		w := &cardWorker{e: e, prefix: fmt.Sprintf("%s-card-%04d", e.run, i)}
		ws[i] = w
		return w.newUser(ctx)
	})
	return ws, err
}

// newUser gives the worker a fresh user with a password and a card.
func (w *cardWorker) newUser(ctx context.Context) error {
	user := w.prefix
	if w.gen > 0 {
		user = fmt.Sprintf("%s-%d", w.prefix, w.gen)
	}
	w.gen++
	if err := w.e.newUser(ctx, user, password); err != nil {
		return err
	}
	c, err := w.e.issueCard(ctx, user)
	if err != nil {
		return err
	}
	w.user, w.challenges, w.cards = user, 0, map[string]*card{c.serial: c}
	return nil
}

func (w *cardWorker) prepare(ctx context.Context) error {
	if w.challenges < w.e.challengeLimit {
		return nil
	}
	w.e.rotations.Add(1)
	return w.newUser(ctx)
}

func (w *cardWorker) order(ctx context.Context) error {
	doc := make([]byte, 32)
	rand.Read(doc)
	digest := sha256.Sum256(doc)
	return w.e.withOrder(ctx, "sign", map[string]string{"userId": w.user, "endUserIp": endUserIP,
		"userVisibleData": b64("Sign the load harness's document"), "documentDigest": base64.StdEncoding.EncodeToString(digest[:])}, func(ref string) error {
		if err := w.e.factor(ctx, ref, "password", password, "pending"); err != nil {
			return err
		}
		var ch struct {
			CardSerial string `json:"cardSerial"`
			KeyNumber  string `json:"keyNumber"`
		}
		w.challenges++
		if err := w.e.rp.call(ctx, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "codecard"}, &ch); err != nil {
			return err
		}
		c, ok := w.cards[ch.CardSerial]
		if !ok {
			// The card ran low and segld issued the next one: print it.
			var err error
			if c, err = w.e.printCard(ctx, ch.CardSerial); err != nil {
				return fmt.Errorf("the challenge names card %s, which this worker had not seen: %w", ch.CardSerial, err)
			}
			w.cards[c.serial] = c
		}
		code, ok := c.codes[ch.KeyNumber]
		if !ok {
			return fmt.Errorf("the challenge names key number %s, which card %s does not have", ch.KeyNumber, ch.CardSerial)
		}
		if err := w.e.factor(ctx, ref, "codecard", code, "complete"); err != nil {
			return err
		}
		comp, err := w.e.complete(ctx, ref, w.user)
		if err != nil {
			return err
		}
		return w.e.ver.signature(comp, digest[:])
	})
}

// ---- app ----

type appWorker struct {
	e    *env
	user string
	dev  *appclient.Device
}

func setupApp(ctx context.Context, e *env, n int) ([]worker, error) {
	if len(e.apps) == 0 {
		return nil, errors.New("the app flow needs the app listener: --app-addr, or SEGL_APP_ADDR in --dev-dir's env")
	}
	ws := make([]worker, n)
	err := parallel(ctx, n, e.setupPar, func(ctx context.Context, i int) error {
		w := &appWorker{e: e, user: fmt.Sprintf("%s-app-%04d", e.run, i)}
		ws[i] = w
		if err := e.newUser(ctx, w.user, password); err != nil {
			return err
		}
		c, err := e.issueCard(ctx, w.user)
		if err != nil {
			return err
		}
		cl := e.app()
		ch, err := cl.StartActivation(ctx, w.user)
		if err != nil {
			return fmt.Errorf("start the activation: %w", err)
		}
		code, ok := c.codes[ch.KeyNumber]
		if !ok || ch.CardSerial != c.serial {
			return fmt.Errorf("the activation asks for card %s key %s, not on the card issued (%s)", ch.CardSerial, ch.KeyNumber, c.serial)
		}
		w.dev, err = cl.CompleteActivation(ctx, appclient.Activation{ID: ch.ActivationID, Password: password, CardCode: code, DeviceName: "load harness"})
		if err != nil {
			return fmt.Errorf("complete the activation: %w", err)
		}
		return nil
	})
	return ws, err
}

func (w *appWorker) prepare(context.Context) error { return nil }

func (w *appWorker) order(ctx context.Context) error {
	return w.e.withOrder(ctx, "auth", map[string]string{"userId": w.user, "endUserIp": endUserIP, "userVisibleData": b64("Log in to Segl Bank")}, func(ref string) error {
		item, err := w.e.app().Find(ctx, w.dev, ref)
		if err != nil {
			return fmt.Errorf("the app's pending list: %w", err)
		}
		d, err := w.e.app().Decide(ctx, w.dev, item, app.DecisionApprove, app.VerifyPIN)
		if err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		if !d.Accepted || d.Status != "complete" {
			return fmt.Errorf("approve: accepted %v, status %s (hint %s), want accepted and complete", d.Accepted, d.Status, d.HintCode)
		}
		c, err := w.e.complete(ctx, ref, w.user)
		if err != nil {
			return err
		}
		return w.e.ver.assertion(c.Assertion, w.user, ref, time.Now())
	})
}

// ---- loop ----

type loopWorker struct {
	e    *env
	user string
}

func setupLoop(ctx context.Context, e *env, n int) ([]worker, error) {
	ws := make([]worker, n)
	err := parallel(ctx, n, e.setupPar, func(ctx context.Context, i int) error {
		w := &loopWorker{e: e, user: fmt.Sprintf("%s-loop-%04d", e.run, i)}
		ws[i] = w
		return e.newUser(ctx, w.user, "")
	})
	return ws, err
}

func (w *loopWorker) prepare(context.Context) error { return nil }

func (w *loopWorker) order(ctx context.Context) error {
	return w.e.withOrder(ctx, "auth", map[string]string{"userId": w.user, "endUserIp": endUserIP, "userVisibleData": b64("Log in to Segl Bank")}, func(ref string) error {
		c, err := w.e.collect(ctx, ref)
		if err != nil {
			return err
		}
		if c.Status != "pending" || c.HintCode != "outstandingTransaction" {
			return fmt.Errorf("collect: status %s hint %s, want pending outstandingTransaction", c.Status, c.HintCode)
		}
		var out map[string]any
		if err := w.e.rp.call(ctx, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref}, &out); err != nil {
			return err
		}
		if len(out) != 0 {
			return fmt.Errorf("cancel answered %v, want {}", out)
		}
		return nil
	})
}
