// Package kanneltest runs a real Kannel for a test: bearerbox with a fake
// SMSC (kannel-extras' fakesmsc, which prints each message it receives
// and acknowledges it with delivery reports) and smsbox with the sendsms
// interface, on free loopback ports, with a config in the test's
// temporary directory. Debian's kannel and kannel-extras provide them
// (scripts/deps.sh installs them).
package kanneltest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// The binaries, where Debian puts them.
const (
	Bearerbox = "/usr/sbin/bearerbox"
	Smsbox    = "/usr/sbin/smsbox"
	Fakesmsc  = "/usr/lib/kannel/test/fakesmsc"
)

// Kannel is a running Kannel.
type Kannel struct {
	SendSMS      string // smsbox's sendsms URL
	Username     string
	PasswordFile string
	Dir          string

	fake *logFile
}

// Message is one message as the fake SMSC received it.
type Message struct {
	From, To string
	Coding   string // fakesmsc's word for it: "text" (GSM 03.38) or "ucs-2"
	Text     string // decoded
}

// Start runs Kannel until the test ends.
func Start(t testing.TB) *Kannel {
	t.Helper()
	for _, bin := range []string{Bearerbox, Smsbox, Fakesmsc} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("Kannel is not installed (%v): scripts/deps.sh installs kannel and kannel-extras", err)
		}
	}
	dir := t.TempDir()
	ports := freePorts(t, 4)
	admin, boxes, smsc, sendsms := ports[0], ports[1], ports[2], ports[3]
	k := &Kannel{
		SendSMS:      fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms),
		Username:     "segl",
		PasswordFile: filepath.Join(dir, "sendsms.password"),
		Dir:          dir,
	}
	password := "kannel-test-" + fmt.Sprint(time.Now().UnixNano())
	if err := os.WriteFile(k.PasswordFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`group = core
admin-port = %d
admin-interface = 127.0.0.1
admin-password = %s
smsbox-port = %d
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = %q
log-level = 1
access-log = %q
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
host = 127.0.0.1
port = %d
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %d
sendsms-port = %d
sendsms-interface = 127.0.0.1
log-file = %q
log-level = 1

group = sendsms-user
username = %s
password = %s
`, admin, password, boxes, filepath.Join(dir, "bearerbox.log"), filepath.Join(dir, "access.log"),
		smsc, boxes, sendsms, filepath.Join(dir, "smsbox.log"), k.Username, password)
	confPath := filepath.Join(dir, "kannel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(name string, stdin *os.File, args ...string) *logFile {
		out := &logFile{path: filepath.Join(dir, filepath.Base(name)+".out")}
		f, err := os.Create(out.path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
		if stdin != nil {
			cmd.Stdin = stdin
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		f.Close()
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		return out
	}
	bb := start(Bearerbox, nil, confPath)
	waitFor(t, "bearerbox to listen for the SMSC", bb, func() bool { return dials(smsc) && dials(boxes) })
	// fakesmsc stays connected while its standard input is open, and
	// prints each message it gets to its standard error.
	// (An *os.File, so that no goroutine of ours copies into it and
	// Wait does not wait for one.)
	stdin, keep, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keep.Close() })
	k.fake = start(Fakesmsc, stdin, "-H", "127.0.0.1", "-r", fmt.Sprint(smsc))
	stdin.Close()
	status := fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=%s", admin, url.QueryEscape(password))
	waitFor(t, "the fake SMSC to come online", k.fake, func() bool { return strings.Contains(get(status), "online") })
	sb := start(Smsbox, nil, confPath)
	waitFor(t, "smsbox's sendsms interface", sb, func() bool { return strings.Contains(get(k.SendSMS), "Authorization failed") })
	return k
}

// Messages are those the fake SMSC received so far.
func (k *Kannel) Messages(t testing.TB) []Message {
	t.Helper()
	var ms []Message
	for _, line := range k.fake.lines() {
		m := gotMessage.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		msg := Message{From: m[1], To: m[2], Coding: m[3], Text: m[4]}
		if msg.Coding == "ucs-2" {
			text, err := decodeUCS2(m[4])
			if err != nil {
				t.Fatalf("fakesmsc's line %q: %v", line, err)
			}
			msg.Text = text
		}
		ms = append(ms, msg)
	}
	return ms
}

// WaitMessages waits until the fake SMSC received n messages.
func (k *Kannel) WaitMessages(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ms := k.Messages(t)
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fake SMSC received %d messages, not %d, in 20 s; its output:\n%s\nsmsbox:\n%s", len(ms), n,
				strings.Join(k.fake.lines(), "\n"), tail(filepath.Join(k.Dir, "smsbox.log")))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gotMessage is how fakesmsc prints a message: "Got message N: <from to
// type data>", the data URL-escaped when it is not text.
var gotMessage = regexp.MustCompile(`Got message \d+: <(\S+) (\S+) (\S+) (.*)>$`)

func decodeUCS2(escaped string) (string, error) {
	raw, err := url.QueryUnescape(escaped)
	if err != nil {
		return "", err
	}
	if len(raw)%2 != 0 {
		return "", fmt.Errorf("UCS-2 data of %d bytes", len(raw))
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return string(utf16.Decode(u)), nil
}

type logFile struct {
	path string
	mu   sync.Mutex
}

func (l *logFile) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func waitFor(t testing.TB, what string, out *logFile, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s; output:\n%s", what, strings.Join(out.lines(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dials(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func get(u string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(b)
}

// freePorts finds n loopback ports nobody listens on, holding them all
// open at once so that they differ.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
