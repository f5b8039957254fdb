package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pluginProcesses reads the process table: the live processes (not
// zombies) running one of the binaries, with their parents.
func pluginProcesses(t *testing.T, bins ...string) map[int]int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue
		}
		for _, b := range bins {
			if exe != b {
				continue
			}
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			// pid (comm) state ppid …; comm may hold spaces.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(f) > 1 && f[0] != "Z" {
				ppid, _ := strconv.Atoi(f[1])
				found[pid] = ppid
			}
		}
	}
	return found
}

// When segld stops — SIGTERM idle, SIGTERM while a plugin is in a call,
// even SIGKILL — no plugin process it started is left.
func TestNoPluginProcessOutlivesSegld(t *testing.T) {
	e := devSetup(t)
	kbin := filepath.Join(t.TempDir(), "bin")
	os.Mkdir(kbin, 0o755)
	kannel := filepath.Join(kbin, "segl-sms-kannel")
	if out, err := exec.Command("go", "build", "-o", kannel, "github.com/segl/segl/cmd/segl-sms-kannel").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(kannel)
	// A sendsms that takes the request and never answers: the adapter is
	// in its call for as long as the test wants.
	got := make(chan struct{}, 10)
	hang := make(chan struct{})
	defer close(hang)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	pw := filepath.Join(e.Dir, "kannel.password")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	outbox := ""
	cfg, _ := os.ReadFile(e.Config)
	for _, line := range strings.Split(string(cfg), "\n") {
		if c, ok := strings.CutPrefix(line, "    command: "); ok {
			outbox = c
		}
	}
	addr := freeAddr(t)
	// The setup's own config, so that segld dev (which registers the
	// development RP) runs it.
	conf := edit(t, e, filepath.Base(e.Config),
		"listen: 127.0.0.1:0", "listen: "+addr,
		"\nsms:\n  adapters: [outbox]\n  timeout: 10s", fmt.Sprintf(`
  - name: kannel
    contract: sms
    command: %s
    sha256: %x
    config:
      url: http://%s/cgi-bin/sendsms
      username: segl
      password-file: %s
      from: SeglBank
sms:
  adapters: [kannel, outbox]
  timeout: 3s`, kannel, sha256.Sum256(b), ln.Addr(), pw))
	if conf != e.Config {
		t.Fatalf("edited %s, not the setup's config %s", conf, e.Config)
	}
	env := []string{"SOFTHSM2_CONF=" + e.Token.Conf}
	off := mtlsClient(t, e.TLSCA, e.Cert, e.Key)
	rp := mtlsClient(t, e.TLSCA, e.RPCert, e.RPKey)
	base := "https://" + addr
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }

	// start runs segld and returns it once both plugins run under it.
	start := func() (*exec.Cmd, func()) {
		cmd, stop := startSegldProcess(t, env, "dev", "--dir", e.Dir)
		waitHealthy(t, off, base)
		procs := pluginProcesses(t, outbox, kannel)
		if len(procs) != 2 {
			t.Fatalf("plugin processes %v; want the outbox and kannel", procs)
		}
		for pid, ppid := range procs {
			if ppid != cmd.Process.Pid {
				t.Fatalf("plugin %d's parent is %d, not segld (%d)", pid, ppid, cmd.Process.Pid)
			}
		}
		return cmd, stop
	}
	gone := func(when string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for procs := pluginProcesses(t, outbox, kannel); len(procs) > 0; procs = pluginProcesses(t, outbox, kannel) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: plugin processes left: %v", when, procs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// SIGTERM while idle.
	_, stop := start()
	stop()
	gone("after SIGTERM")

	// SIGTERM while the kannel adapter is in a call: the request in flight
	// is answered (its outcome unknown, by the deadline), then segld and
	// every plugin are gone.
	cmd, _ := start()
	if code := call(t, off, "POST", base+"/admin/v1/users", "application/json", js(map[string]string{"id": "karen", "name": "Karen", "password": "hemmeligt1"}), nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	call(t, off, "PUT", base+"/admin/v1/users/karen/phone", "application/json", js(map[string]string{"phone": "+4512345678"}), nil)
	var order struct{ OrderRef string }
	if code := call(t, rp, "POST", base+"/rp/v1/auth", "application/json", js(map[string]string{"userId": "karen", "endUserIp": "192.0.2.1"}), &order); code != 200 {
		t.Fatalf("auth: %d", code)
	}
	answered := make(chan string, 1)
	go func() {
		var sent map[string]any
		code := call(t, rp, "POST", base+"/rp/v1/challenge", "application/json", js(map[string]string{"orderRef": order.OrderRef, "type": "sms"}), &sent)
		answered <- fmt.Sprint(code, " ", sent["delivery"])
	}()
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the kannel adapter never called sendsms")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if a := <-answered; a != "200 unknown" {
		t.Errorf("the challenge in flight at SIGTERM was answered %q, want 200 unknown", a)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("segld exited: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("segld did not exit within 30 s of SIGTERM")
	}
	gone("after SIGTERM during a call")

	// SIGKILL: segld cannot clean up; the kernel ends its plugins.
	cmd, _ = start()
	cmd.Process.Kill()
	cmd.Wait()
	gone("after SIGKILL")
}
