package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/daemon/daemontest"
)

// The example, compiled and run as a relying party would run it, against
// a real segld: an officer makes the user and their code card first, and
// the test types the code the card shows for the key number the example
// prints.
func TestExampleAgainstSegld(t *testing.T) {
	d := daemontest.Start(t)
	off := officer(t, d)
	post := func(path string, body any, out any) {
		b, _ := json.Marshal(body)
		resp, err := off.Post(d.Addr+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			msg, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %s", path, resp.StatusCode, msg)
		}
		json.NewDecoder(resp.Body).Decode(out)
	}
	post("/admin/v1/users", map[string]string{"id": "alice", "name": "Alice", "password": "correct horse"}, &struct{}{})
	var card struct {
		Entries []struct{ Key, Code string }
	}
	post("/admin/v1/codecards", map[string]string{"userId": "alice"}, &card)

	dir := t.TempDir()
	bin := filepath.Join(dir, "rpclient")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("correct horse\n"), 0o600)
	cmd := exec.Command(bin, "--user", "alice", "--password-file", pw, "--rp-id", "dev-rp")
	cmd.Env = append(os.Environ(), "SEGL_ADDR="+d.Addr, "SEGL_CA="+d.Dev.TLSCA, "SEGL_RP_CERT="+d.Dev.RPCert, "SEGL_RP_KEY="+d.Dev.RPKey)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	prompt := regexp.MustCompile(`key ([0-9]{4}): $`)
	rd := bufio.NewReader(stdout)
	var seen strings.Builder
	deadline := time.Now().Add(30 * time.Second)
	for !prompt.MatchString(seen.String()) {
		b, err := rd.ReadByte()
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("no prompt for the code: %v\n%s\n%s", err, seen.String(), stderr.String())
		}
		seen.WriteByte(b)
	}
	key := prompt.FindStringSubmatch(seen.String())[1]
	code := ""
	for _, e := range card.Entries {
		if e.Key == key {
			code = e.Code
		}
	}
	io.WriteString(stdin, code+"\n")
	rest, _ := io.ReadAll(rd)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rpclient: %v\n%s%s\n%s", err, seen.String(), rest, stderr.String())
	}
	if !strings.Contains(string(rest), "verified: alice logged in (iss segl-dev, amr [pwd otp mfa])") {
		t.Fatalf("rpclient printed:\n%s%s", seen.String(), rest)
	}
}

func officer(t *testing.T, d *daemontest.Daemon) *http.Client {
	t.Helper()
	ca, _ := os.ReadFile(d.Dev.TLSCA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(d.Dev.Cert, d.Dev.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}
}
