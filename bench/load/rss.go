package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procStatus reads a process's VmRSS and VmHWM (KiB) from
// /proc/PID/status.
func procStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

func parseStatus(sc *bufio.Scanner) (rss, hwm int64, err error) {
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: %q is not a size in kB", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("no VmRSS and VmHWM in the status")
	}
	return rss, hwm, nil
}

// listenerPID finds the process that listens on addr's port on this
// machine (https://127.0.0.1:8443): the socket's inode in /proc/net/tcp
// and tcp6, then the process holding that inode among its descriptors.
func listenerPID(addr string) (int, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return 0, err
	}
	_, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, ino := range listeningInodes(string(b), uint16(port)) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing on this machine listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		l, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(l, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no process of those this user may read holds the socket listening on port %d: give --pid", port)
}

// listeningInodes reads a /proc/net/tcp table: the inodes of the sockets
// in state LISTEN (0A) on port.
func listeningInodes(table string, port uint16) []string {
	var out []string
	for i, ln := range strings.Split(table, "\n") {
		f := strings.Fields(ln)
		if i == 0 || len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, p, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(p, 16, 16); err == nil && uint16(n) == port {
			out = append(out, f[9])
		}
	}
	return out
}
