package pivtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// ATR is a YubiKey 5 NFC's answer to reset, which the virtual card gives.
var ATR = []byte{0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40}

// Reader is a pcscd of the test's own with vsmartcard's vpcd driver: a
// virtual reader into which a Card is inserted over loopback TCP.
type Reader struct {
	// Name is the reader's PC/SC name, as piv.Open takes it.
	Name string
	// Socket is pcscd's socket; PCSCLITE_CSOCK_NAME names it to the
	// PC/SC clients of the test process (Start sets it) and others.
	Socket string
	port   int
	log    string
}

const (
	pcscd  = "/usr/sbin/pcscd"
	driver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
)

// Start starts pcscd for this test, stopped when it ends, and sets
// PCSCLITE_CSOCK_NAME for the test (so the test cannot be parallel).
//
// pcscd takes its socket from systemd's socket activation: it has no
// option for another path, and the default, /run/pcscd/pcscd.comm, is
// the machine's. The test is systemd here: it listens on a socket in its
// temp dir and hands it to pcscd as descriptor 3 (LISTEN_FDS), so that
// each test has a pcscd of its own and the machine's is never touched.
func Start(t testing.TB) *Reader {
	t.Helper()
	for _, f := range []string{pcscd, driver} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: install pcscd and vsmartcard-vpcd (make deps does): %v", f, err)
		}
	}
	// libpcsclite reads PCSCLITE_CSOCK_NAME once a process, at its first
	// context: every test of a process must find its pcscd at the same
	// path, so the directory is the process's, made again by each test
	// (tests that set the environment do not run in parallel).
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("segl-pcsc.%d", os.Getpid())) // short: a socket's path is at most 107 bytes
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// vpcd listens on its port for the card and on the next for a
	// second reader; two free ports side by side.
	port := freePorts(t)
	conf := filepath.Join(dir, "reader.conf.d")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(conf, "vpcd"), fmt.Appendf(nil,
		"FRIENDLYNAME \"Segl virtual YubiKey\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n", port, driver, port), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reader{Name: "Segl virtual YubiKey 00 00", Socket: filepath.Join(dir, "pcscd.comm"), port: port, log: filepath.Join(dir, "pcscd.log")}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	sock, err := ln.File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	os.Chmod(r.Socket, 0o777)
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// LISTEN_PID must be pcscd's own pid, known only once it runs: the
	// shell sets it to its own and then becomes pcscd.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, pcscd, "--foreground", "--apdu", "--debug", "--config", conf)
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{sock}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pcscd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("pcscd's log: %s", r.log)
		}
	})
	t.Setenv("PCSCLITE_CSOCK_NAME", r.Socket)
	return r
}

func freePorts(t testing.TB) int {
	t.Helper()
	for range 50 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no two free loopback ports side by side")
	return 0
}

// Log is pcscd's log so far (with --apdu, every command and response).
func (r *Reader) Log() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// Insert connects card to the reader, as if put into it; the card stays
// until Remove or the test's end. The reader takes one card at a time:
// Remove the one in it first. pcscd's vpcd may not listen yet just
// after Start, so Insert retries for a few seconds.
func (r *Reader) Insert(t testing.TB, card *Card) *Inserted {
	t.Helper()
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("vpcd does not listen on %d: %v\npcscd's log:\n%s", r.port, err, tail(r.Log()))
	}
	in := &Inserted{conn: conn, done: make(chan struct{})}
	go in.serve(card)
	t.Cleanup(in.Remove)
	// Wait until pcscd sees the card.
	for deadline := time.Now().Add(10 * time.Second); !in.powered(); {
		if time.Now().After(deadline) {
			t.Fatalf("pcscd did not see the card\n%s", tail(r.Log()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return in
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// Inserted is a card in the reader.
type Inserted struct {
	conn net.Conn
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	on   bool
	err  error
}

func (in *Inserted) powered() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.on
}

// Remove takes the card out.
func (in *Inserted) Remove() {
	in.once.Do(func() { in.conn.Close() })
	<-in.done
}

// serve is vpcd's protocol: each message is a 2-byte big-endian length
// and its bytes; one byte is a control (0 power off, 1 power on, 2 reset,
// 4 the ATR, which is answered), anything longer an APDU, answered with
// the response APDU.
func (in *Inserted) serve(card *Card) {
	defer close(in.done)
	rd := bufio.NewReader(in.conn)
	send := func(b []byte) error {
		_, err := in.conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b))))
		if err == nil {
			_, err = in.conn.Write(b)
		}
		return err
	}
	for {
		var n uint16
		if err := binary.Read(rd, binary.BigEndian, &n); err != nil {
			in.fail(err)
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(rd, msg); err != nil {
			in.fail(err)
			return
		}
		var err error
		switch {
		case n == 1 && msg[0] == 4:
			err = send(ATR)
		case n == 1:
			if msg[0] == 0 || msg[0] == 2 {
				card.Reset()
			}
			in.mu.Lock()
			in.on = msg[0] != 0
			in.mu.Unlock()
		default:
			err = send(card.APDU(msg))
		}
		if err != nil {
			in.fail(err)
			return
		}
	}
}

func (in *Inserted) fail(err error) {
	if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
	}
}
