package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segl/segl/plugins/docverify/icao9303/icaotest"
)

// segl documents verify and verify-aa on a test document's dump, as an
// auditor types them.
func TestDocumentsCommands(t *testing.T) {
	for _, signer := range []string{"rsa", "brainpoolP384r1"} {
		d := icaotest.New(t, icaotest.Options{Signer: signer, Explicit: true})
		dir := filepath.Join(t.TempDir(), "dump")
		d.WriteDump(dir)
		challenge := []byte("\x01\x23\x45\x67\x89\xab\xcd\xef")
		sig := filepath.Join(t.TempDir(), "aa.sig")
		os.WriteFile(sig, d.SignAA(challenge), 0o600)
		args := []string{"documents", "verify", "--dir", dir, "--csca", filepath.Join(dir, "csca.der"),
			"--aa-challenge", hex.EncodeToString(challenge), "--aa-signature", sig}
		out, errOut, code := segl(t, args...)
		if code != 0 || !strings.HasSuffix(out, "verdict: genuine\n") || !strings.Contains(out, "active-authentication: ok\n") ||
			!strings.Contains(out, "sod-signature: ok\n") || !strings.Contains(out, "dg1-hash: ok\n") || !strings.Contains(out, "chain: ok\n") {
			t.Fatalf("%s: exit %d\n%s%s", signer, code, out, errOut)
		}
		if strings.Contains(out, "ERIKSSON") || strings.Contains(out, "L898902C3") {
			t.Fatalf("verify prints the holder's data:\n%s", out)
		}
		// A flipped byte in DG1: rejected, exit 1, the check named.
		dg1 := filepath.Join(dir, "EF_DG1.bin")
		b, _ := os.ReadFile(dg1)
		b[12] ^= 1
		os.WriteFile(dg1, b, 0o600)
		out, _, code = segl(t, args...)
		if code != 1 || !strings.Contains(out, "dg1-hash: failed") || !strings.Contains(out, "verdict: rejected: dg1-hash") {
			t.Fatalf("%s, a flipped DG1: exit %d\n%s", signer, code, out)
		}
		// verify-aa with the DG15 alone.
		out, _, code = segl(t, "documents", "verify-aa", "--dg15", filepath.Join(dir, "EF_DG15.bin"), "--challenge", hex.EncodeToString(challenge), "--signature", sig)
		if code != 0 || out != "active-authentication: ok\n" {
			t.Fatalf("verify-aa: %d %s", code, out)
		}
		out, _, code = segl(t, "documents", "verify-aa", "--dg15", filepath.Join(dir, "EF_DG15.bin"), "--challenge", "0000000000000000", "--signature", sig)
		if code != 1 || !strings.HasPrefix(out, "active-authentication: failed: ") {
			t.Fatalf("verify-aa, another challenge: %d %s", code, out)
		}
	}
	// Trust from a master list, verified against its anchor.
	anchor := icaotest.New(t, icaotest.Options{})
	listed := icaotest.New(t, icaotest.Options{Signer: "p256"})
	dir := t.TempDir()
	listed.WriteDump(filepath.Join(dir, "dump"))
	ml, anchorFile := filepath.Join(dir, "utopia.ml"), filepath.Join(dir, "anchor.der")
	os.WriteFile(ml, anchor.MasterList(t, [][]byte{listed.CSCA, anchor.CSCA}, nil), 0o600)
	os.WriteFile(anchorFile, anchor.CSCA, 0o600)
	if out, errOut, code := segl(t, "documents", "masterlist", "--file", ml, "--anchor", anchorFile); code != 0 || out != "2 CSCAs from 1 countries\n" {
		t.Fatalf("masterlist: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := segl(t, "documents", "verify", "--dir", filepath.Join(dir, "dump"), "--masterlist", ml, "--masterlist-anchor", anchorFile); code != 0 ||
		!strings.Contains(out, "chain: ok\n") || !strings.HasSuffix(out, "verdict: genuine\n") {
		t.Fatalf("verify with a master list: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := segl(t, "documents", "masterlist", "--file", ml, "--anchor", filepath.Join(dir, "dump", "csca.der")); code == 0 ||
		!strings.Contains(errOut, "is not signed by the anchor") {
		t.Fatalf("masterlist with another anchor: exit %d %s", code, errOut)
	}
	if _, errOut, code := segl(t, "documents", "verify", "--dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "EF_SOD.bin") {
		t.Fatalf("an empty dump: %d %s", code, errOut)
	}
}
