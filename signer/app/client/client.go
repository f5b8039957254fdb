// Package client is the reference app: a stand-in for the phone, which
// segl app uses and the end-to-end tests drive, and which shows a bank's
// mobile team every byte of the app API (docs/app.md). The formats are
// signer/app's; this package only speaks them.
package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/signer/app"
)

// Client talks to one segld's app listener.
type Client struct {
	// Base is https://host:port.
	Base string
	HTTP *http.Client
	// Now is the time a request is signed with (time.Now by default).
	Now func() time.Time
}

// New returns a client of the app listener at addr (host:port, or
// https://host:port) that trusts roots only.
func New(addr string, roots *x509.CertPool) *Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}}
	// Only https: an http:// address fails to connect rather than talk in the clear.
	base := "https://" + strings.TrimPrefix(strings.TrimRight(addr, "/"), "https://")
	return &Client{Base: base, HTTP: &http.Client{Transport: tr, Timeout: app.MaxWait + 15*time.Second}}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Device is an activated device, its key unlocked.
type Device struct {
	ID   string
	User string
	Name string
	Key  *ecdsa.PrivateKey
}

// APIError is an error answer of segld.
type APIError struct {
	Status  int
	Code    string
	Details string
	// Devices are listed when an activation is refused at the limit.
	Devices []app.Device
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("segld answered %d %s: %s", e.Status, e.Code, e.Details)
	if len(e.Devices) > 0 {
		var ds []string
		for _, d := range e.Devices {
			ds = append(ds, fmt.Sprintf("%s %q", d.ID, d.Name))
		}
		msg += " (devices: " + strings.Join(ds, ", ") + ")"
	}
	return msg
}

func sign(k *ecdsa.PrivateKey, msg []byte) (string, error) {
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	return base64.StdEncoding.EncodeToString(sig), err
}

// StartActivation asks for the code-card entry that activates a device:
// StartActivationWith with the default method.
func (c *Client) StartActivation(ctx context.Context, user string) (*app.ActivationChallenge, error) {
	return c.StartActivationWith(ctx, app.ActivationStart{UserID: user})
}

// StartActivationWith starts an activation by s.Method (app.MethodCodeCard
// when empty, or app.MethodPassport) and answers its challenge.
func (c *Client) StartActivationWith(ctx context.Context, s app.ActivationStart) (*app.ActivationChallenge, error) {
	var out app.ActivationChallenge
	req, err := c.plain(ctx, app.PathActivationStart, s)
	if err != nil {
		return nil, err
	}
	return &out, c.do(req, &out)
}

// Activation is what completes an activation besides the new key: the
// password, and the card code or (app.MethodPassport) the chip's files and
// its answer to the DocumentChallenge, one of them.
type Activation struct {
	ID         string
	Password   string
	CardCode   string
	Document   *app.DocumentFiles
	DeviceName string
	Replace    string // a device to revoke, or ""
	KeyStorage string // "" for software
	Biometry   string // "" for none
}

// CompleteActivation makes the device key, proves it holds it, and
// registers it.
func (c *Client) CompleteActivation(ctx context.Context, a Activation) (*Device, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	proof, err := sign(key, app.ActivationProof(a.ID))
	if err != nil {
		return nil, err
	}
	req, err := c.plain(ctx, app.PathActivationComplete, app.ActivationComplete{ActivationID: a.ID, Password: a.Password, CardCode: a.CardCode,
		Document: a.Document, PublicKey: base64.StdEncoding.EncodeToString(der), Proof: proof, DeviceName: a.DeviceName, ReplaceDeviceID: a.Replace,
		KeyStorage: a.KeyStorage, Biometry: a.Biometry})
	if err != nil {
		return nil, err
	}
	var out app.Activated
	if err := c.do(req, &out); err != nil {
		return nil, err
	}
	return &Device{ID: out.DeviceID, User: out.UserID, Name: a.DeviceName, Key: key}, nil
}

func (c *Client) plain(ctx context.Context, path string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.Base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// Signed is a request signed by d as docs/app.md says, with a new nonce
// and the time now: target is the path and query, body nil or a value
// sent as JSON.
func (c *Client) Signed(ctx context.Context, d *Device, method, target string, body any) (*http.Request, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	nb := make([]byte, 16)
	if _, err := rand.Read(nb); err != nil {
		return nil, err
	}
	nonce := base64.RawURLEncoding.EncodeToString(nb)
	t := c.now().Unix()
	sig, err := sign(d.Key, app.RequestInput(method, target, raw, t, nonce, d.ID))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+target, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(app.HeaderDevice, d.ID)
	req.Header.Set(app.HeaderTime, strconv.FormatInt(t, 10))
	req.Header.Set(app.HeaderNonce, nonce)
	req.Header.Set(app.HeaderSignature, sig)
	return req, nil
}

// do sends req and decodes a 200 answer into out, or returns *APIError.
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("the app API at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e app.TooManyDevices
		if json.Unmarshal(b, &e) != nil || e.ErrorCode == "" {
			return &APIError{Status: resp.StatusCode, Code: "unknown", Details: strings.TrimSpace(string(b))}
		}
		return &APIError{Status: resp.StatusCode, Code: e.ErrorCode, Details: e.Details, Devices: e.Devices}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *Client) signedDo(ctx context.Context, d *Device, method, target string, body, out any) error {
	req, err := c.Signed(ctx, d, method, target, body)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

// Pending lists the orders waiting for the user, waiting up to wait for
// one (whole seconds, at most app.MaxWait).
func (c *Client) Pending(ctx context.Context, d *Device, wait time.Duration) ([]app.PendingOrder, error) {
	target := app.PathPending
	if s := int(wait / time.Second); s > 0 {
		target += "?wait=" + strconv.Itoa(min(s, int(app.MaxWait/time.Second)))
	}
	var out app.Pending
	if err := c.signedDo(ctx, d, "GET", target, nil, &out); err != nil {
		return nil, err
	}
	return out.Orders, nil
}

// ApprovalFor is what a decision on o signs, from o as the phone showed it.
func ApprovalFor(o app.PendingOrder, decision, uv string) (app.Approval, error) {
	shown, err := base64.StdEncoding.DecodeString(o.UserVisibleData)
	if err != nil {
		return app.Approval{}, fmt.Errorf("order %s: userVisibleData is not base64: %v", o.OrderRef, err)
	}
	a := app.Approval{OrderRef: o.OrderRef, Challenge: o.Challenge, UserVisibleData: shown, Decision: decision, UserVerification: uv}
	if o.Payment != nil {
		a.AmountMinor, a.Currency, a.Payee = o.Payment.AmountMinor, o.Payment.Currency, o.Payment.Payee
	}
	return a, nil
}

// Decision is a signed decision on o, ready to send.
func Decision(d *Device, o app.PendingOrder, decision, uv string) (app.Approve, error) {
	a, err := ApprovalFor(o, decision, uv)
	if err != nil {
		return app.Approve{}, err
	}
	sig, err := sign(d.Key, app.ApprovalMessage(a))
	if err != nil {
		return app.Approve{}, err
	}
	return app.Approve{OrderRef: o.OrderRef, Challenge: o.Challenge, Decision: decision, UserVerification: uv, Signature: sig}, nil
}

// Decide approves or rejects o, as the user was shown it.
func (c *Client) Decide(ctx context.Context, d *Device, o app.PendingOrder, decision, uv string) (*app.Decided, error) {
	req, err := Decision(d, o, decision, uv)
	if err != nil {
		return nil, err
	}
	var out app.Decided
	return &out, c.signedDo(ctx, d, "POST", app.PathApprove, req, &out)
}

// Find is the pending order ref, fetched now.
func (c *Client) Find(ctx context.Context, d *Device, ref string) (app.PendingOrder, error) {
	list, err := c.Pending(ctx, d, 0)
	if err != nil {
		return app.PendingOrder{}, err
	}
	for _, o := range list {
		if o.OrderRef == ref {
			return o, nil
		}
	}
	return app.PendingOrder{}, fmt.Errorf("order %s is not waiting for this device (it may be finished, expired, or another user's)", ref)
}

// Scan takes an order by its QR code's text or its autoStartToken.
func (c *Client) Scan(ctx context.Context, d *Device, s app.Scan) (*app.Scanned, error) {
	var out app.Scanned
	return &out, c.signedDo(ctx, d, "POST", app.PathScan, s, &out)
}

// SubmitDocument relays a chip's files and its answer to the order's
// documentChallenge.
func (c *Client) SubmitDocument(ctx context.Context, d *Device, doc app.Document) (*app.Decided, error) {
	var out app.Decided
	return &out, c.signedDo(ctx, d, "POST", app.PathDocument, doc, &out)
}

// Devices lists the user's devices.
func (c *Client) Devices(ctx context.Context, d *Device) ([]app.Device, error) {
	var out app.Devices
	return out.Devices, c.signedDo(ctx, d, "GET", app.PathDevices, nil, &out)
}

// Revoke revokes one of the user's devices.
func (c *Client) Revoke(ctx context.Context, d *Device, id string) (*app.Revoked, error) {
	var out app.Revoked
	return &out, c.signedDo(ctx, d, "POST", app.PathDevices+"/"+url.PathEscape(id)+"/revoke", nil, &out)
}

// ErrUnauthorized reports whether err is segld's 401.
func ErrUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}
