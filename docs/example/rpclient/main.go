// Command rpclient is an example relying party, the way a bank's login
// front end would use segld (docs/relying-party.md): it starts an auth
// order, passes the user's personal password and a code from their code
// card, collects the assertion, and verifies it with the key from
// GET /rp/v1/jwks. It uses only the standard library and go-jose.
//
//	export SEGL_ADDR=https://127.0.0.1:8443 SEGL_CA=… SEGL_RP_CERT=… SEGL_RP_KEY=…
//	rpclient --user alice --password-file pw --rp-id dev-rp
//
// The code is read from standard input, as the user would type it.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func main() {
	user := flag.String("user", "", "the user's ID at the issuer")
	pwFile := flag.String("password-file", "", "a file holding the user's personal password (as the user would type it)")
	rpID := flag.String("rp-id", "dev-rp", "this relying party's ID at segld: the assertion's audience")
	flag.Parse()
	if err := run(*user, *pwFile, *rpID, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpclient:", err)
		os.Exit(1)
	}
}

// rp is a mutual-TLS client of segld's relying-party API.
type rp struct {
	base string
	http *http.Client
}

func newRP() (*rp, error) {
	ca, err := os.ReadFile(os.Getenv("SEGL_CA"))
	if err != nil {
		return nil, fmt.Errorf("SEGL_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("SEGL_CA holds no certificate")
	}
	cert, err := tls.LoadX509KeyPair(os.Getenv("SEGL_RP_CERT"), os.Getenv("SEGL_RP_KEY"))
	if err != nil {
		return nil, fmt.Errorf("SEGL_RP_CERT / SEGL_RP_KEY: %w", err)
	}
	return &rp{base: os.Getenv("SEGL_ADDR"), http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}}, nil
}

// call sends body (or nothing, for GET) and decodes the answer; an error
// answer is {"errorCode", "details"}.
func (c *rp) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct{ ErrorCode, Details string }
		json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, e.ErrorCode, e.Details)
	}
	return json.Unmarshal(b, out)
}

type factorAnswer struct {
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
	HintCode string `json:"hintCode"`
}

func run(user, pwFile, rpID string, stdin io.Reader, stdout io.Writer) error {
	c, err := newRP()
	if err != nil {
		return err
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return fmt.Errorf("--password-file: %w", err)
	}
	// 1. Start the order: who, from where, and what the user is shown.
	var order struct{ OrderRef string }
	err = c.call("POST", "/rp/v1/auth", map[string]string{"userId": user, "endUserIp": "192.0.2.1",
		"userVisibleData": base64.StdEncoding.EncodeToString([]byte("Log in to Example Bank"))}, &order)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "order %s\n", order.OrderRef)
	// 2. The personal password (knowledge).
	var ans factorAnswer
	if err := c.call("POST", "/rp/v1/factor", map[string]string{"orderRef": order.OrderRef, "type": "password",
		"value": strings.TrimRight(string(pw), "\r\n")}, &ans); err != nil {
		return err
	}
	if !ans.Accepted {
		return fmt.Errorf("the password was not accepted (order %s, %s)", ans.Status, ans.HintCode)
	}
	// 3. The code card (possession): ask which key number to show, then
	// the code the user reads beside it.
	var ch struct{ CardSerial, KeyNumber string }
	if err := c.call("POST", "/rp/v1/challenge", map[string]string{"orderRef": order.OrderRef, "type": "codecard"}, &ch); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "code card %s, key %s: ", ch.CardSerial, ch.KeyNumber)
	code, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the code: %w", err)
	}
	if err := c.call("POST", "/rp/v1/factor", map[string]string{"orderRef": order.OrderRef, "type": "codecard",
		"value": strings.TrimSpace(code)}, &ans); err != nil {
		return err
	}
	if !ans.Accepted {
		return fmt.Errorf("the code was not accepted (order %s, %s)", ans.Status, ans.HintCode)
	}
	// 4. Collect: two independent factors completed the order.
	var got struct {
		Status         string
		HintCode       string
		CompletionData struct{ Assertion string }
	}
	if err := c.call("POST", "/rp/v1/collect", map[string]string{"orderRef": order.OrderRef}, &got); err != nil {
		return err
	}
	if got.Status != "complete" {
		return fmt.Errorf("order %s is %s (%s)", order.OrderRef, got.Status, got.HintCode)
	}
	// 5. Verify the assertion with the issuer's key from the JWK Set,
	// chosen by the JWS header's kid, and check who it is for.
	var set jose.JSONWebKeySet
	if err := c.call("GET", "/rp/v1/jwks", nil, &set); err != nil {
		return err
	}
	sig, err := jose.ParseSigned(got.CompletionData.Assertion, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return err
	}
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return fmt.Errorf("no key in the JWK Set has kid %q", sig.Signatures[0].Header.KeyID)
	}
	payload, err := sig.Verify(keys[0])
	if err != nil {
		return fmt.Errorf("the assertion does not verify: %w", err)
	}
	var claims struct {
		Sub, Aud, Iss, OrderRef string
		Exp                     int64
		AMR                     []string
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(payload, &raw)
	json.Unmarshal(payload, &claims)
	json.Unmarshal(raw["order_ref"], &claims.OrderRef)
	switch {
	case claims.Aud != rpID:
		return fmt.Errorf("the assertion is for %q, not for this relying party (%q)", claims.Aud, rpID)
	case claims.OrderRef != order.OrderRef:
		return fmt.Errorf("the assertion is for order %s, not %s", claims.OrderRef, order.OrderRef)
	case claims.Sub != user:
		return fmt.Errorf("the assertion is for %q, not %q", claims.Sub, user)
	case time.Now().Unix() >= claims.Exp:
		return errors.New("the assertion has expired")
	}
	fmt.Fprintf(stdout, "\nverified: %s logged in (iss %s, amr %v)\n", claims.Sub, claims.Iss, claims.AMR)
	return nil
}
