package audit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
)

func TestCanonicalByHand(t *testing.T) {
	r := audit.Record{Seq: 3, Time: time.Date(2026, 11, 22, 10, 0, 0, 5, time.FixedZone("CET", 3600)), Event: "factor.refused",
		Actor: "rp:bank", Subject: "order:x", Outcome: "refused",
		Details: map[string]string{"z": "a\"b\\c\n\u0001<>&\u2028é", "a": "1"}}
	got, err := audit.Canonical(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actor":"rp:bank","details":{"a":"1","z":"a\"b\\c\n\u0001<>&` + "\u2028é" + `"},"event":"factor.refused","outcome":"refused","seq":3,"subject":"order:x","time":"2026-11-22T09:00:00.000000005Z"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := audit.Canonical(audit.Record{Seq: 1, Event: "e", Actor: "a", Outcome: "ok", Subject: "\xff"}); err == nil {
		t.Fatal("invalid UTF-8 was accepted")
	}
}

func TestChainBreaks(t *testing.T) {
	var recs []audit.Stored
	var prev audit.Hash
	for i := uint64(1); i <= 10; i++ {
		r := audit.Record{Seq: i, Time: time.Unix(int64(i), 0), Event: "e", Actor: "a", Outcome: "ok"}
		h, err := audit.Next(prev, r)
		if err != nil {
			t.Fatal(err)
		}
		recs, prev = append(recs, audit.Stored{Record: r, Hash: h}), h
	}
	walk := func(rs []audit.Stored) *audit.Break {
		rep, err := audit.Verify(audit.Records(rs), nil, nil, audit.Expect{})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Broken
	}
	if b := walk(recs); b != nil {
		t.Fatalf("intact: %v", b)
	}
	edited := append([]audit.Stored(nil), recs...)
	edited[4].Record.Actor = "b"
	if b := walk(edited); b == nil || b.Seq != 5 {
		t.Fatalf("edited 5: %v", b)
	}
	gap := append(append([]audit.Stored(nil), recs[:3]...), recs[4:]...)
	if b := walk(gap); b == nil || b.Seq != 4 {
		t.Fatalf("dropped 4: %v", b)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("order.started", "rp:bank", "order:1", "k", "v\n\"")
	f.Fuzz(func(t *testing.T, event, actor, subject, k, v string) {
		r := audit.Record{Seq: 1, Time: time.Unix(0, 0), Event: event, Actor: actor, Subject: subject, Outcome: "ok", Details: map[string]string{k: v}}
		b, err := audit.Canonical(r)
		if err != nil {
			return
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s is not JSON: %v", b, err)
		}
		if back["event"] != event || back["actor"] != actor || back["details"].(map[string]any)[k] != v {
			t.Fatalf("round trip of %s lost a value", b)
		}
	})
}

// chain makes n records, one a second from t0, and checkpoints signed by
// key at the positions given.
func chain(t *testing.T, key *ecdsa.PrivateKey, n int, t0 time.Time, at ...uint64) ([]audit.Stored, []audit.Checkpoint) {
	t.Helper()
	var recs []audit.Stored
	var cps []audit.Checkpoint
	var prev audit.Hash
	for i := uint64(1); i <= uint64(n); i++ {
		r := audit.Record{Seq: i, Time: t0.Add(time.Duration(i) * time.Second), Event: "e", Actor: "a", Outcome: "ok"}
		h, err := audit.Next(prev, r)
		if err != nil {
			t.Fatal(err)
		}
		recs, prev = append(recs, audit.Stored{Record: r, Hash: h}), h
		if slices.Contains(at, i) {
			sig, err := audit.SignCheckpoint(key, i, h)
			if err != nil {
				t.Fatal(err)
			}
			cps = append(cps, audit.Checkpoint{Seq: i, Hash: h, Time: r.Time, Signature: sig})
		}
	}
	return recs, cps
}

func verify(t *testing.T, recs []audit.Stored, cps []audit.Checkpoint, key *ecdsa.PrivateKey, exp audit.Expect) *audit.Break {
	t.Helper()
	rep, err := audit.Verify(audit.Records(recs), cps, key.Public(), exp)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Broken
}

func without(cps []audit.Checkpoint, seq uint64) []audit.Checkpoint {
	return slices.DeleteFunc(slices.Clone(cps), func(c audit.Checkpoint) bool { return c.Seq == seq })
}

func wantBreak(t *testing.T, b *audit.Break, seq uint64, text string) {
	t.Helper()
	if b == nil || b.Seq != seq || !strings.Contains(b.Reason, text) {
		t.Fatalf("break %+v, want at %d with %q", b, seq, text)
	}
}

func TestAnchorAndExternalCheckpoints(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	t0 := time.Unix(1_800_000_000, 0)
	recs, cps := chain(t, key, 12, t0, 4, 8, 12)
	anchor := cps[2]
	if b := verify(t, recs, cps, key, audit.Expect{Anchor: &anchor, External: cps, ExternalName: "f"}); b != nil {
		t.Fatalf("intact: %v", b)
	}
	// Truncated to record 8, the later checkpoint deleted: the database
	// alone holds together, the HSM's checkpoint does not.
	if b := verify(t, recs[:8], cps[:2], key, audit.Expect{}); b != nil {
		t.Fatalf("the truncation is invisible without the HSM: %v", b)
	}
	wantBreak(t, verify(t, recs[:8], cps[:2], key, audit.Expect{Anchor: &anchor}), 9, "records 9 to 12 were removed")
	wantBreak(t, verify(t, recs[:8], cps[:2], key, audit.Expect{External: cps, ExternalName: "f"}), 9, "checkpoint 12 of f")
	// Rewritten from record 6 on, checkpoints from there deleted.
	other, _ := chain(t, key, 12, t0.Add(time.Hour))
	forged := append(slices.Clone(recs[:5]), other[5:]...)
	var prev audit.Hash = recs[4].Hash
	for i := 5; i < len(forged); i++ {
		forged[i].Hash, _ = audit.Next(prev, forged[i].Record)
		prev = forged[i].Hash
	}
	if b := verify(t, forged, cps[:1], key, audit.Expect{}); b != nil {
		t.Fatalf("the rewrite is invisible without the HSM: %v", b)
	}
	wantBreak(t, verify(t, forged, cps[:1], key, audit.Expect{Anchor: &anchor}), 12, "not what the HSM's last checkpoint sealed")
	// The HSM's checkpoint, or one from the file, deleted from the database.
	wantBreak(t, verify(t, recs, cps[:2], key, audit.Expect{Anchor: &anchor}), 12, "missing from the database")
	wantBreak(t, verify(t, recs, without(cps, 8), key, audit.Expect{External: cps, ExternalName: "f"}), 8, "checkpoint 8 of f is missing from the database")
	// A checkpoint not signed by the audit key.
	other2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, foreign := chain(t, other2, 12, t0, 12)
	wantBreak(t, verify(t, recs, cps, key, audit.Expect{Anchor: &foreign[0]}), 12, "signature")
}

func TestCadence(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	t0 := time.Unix(1_800_000_000, 0)
	recs, cps := chain(t, key, 22, t0, 5, 10, 15, 20)
	cad := &audit.Cadence{Every: 5, Interval: time.Minute, Grace: 5 * time.Second}
	last := recs[len(recs)-1].Record.Time
	if b := verify(t, recs, cps, key, audit.Expect{Cadence: cad, Now: last}); b != nil {
		t.Fatalf("intact: %v", b)
	}
	// One deleted in the middle: records 6 to 10 then have none.
	wantBreak(t, verify(t, recs, without(cps, 10), key, audit.Expect{Cadence: cad, Now: last}), 10, "records 6 to 10")
	// The last one deleted: 16 to 22 are unsealed, and record 20 was
	// written long enough ago to have been sealed.
	wantBreak(t, verify(t, recs, without(cps, 20), key, audit.Expect{Cadence: cad, Now: last.Add(time.Minute)}), 20, "not sealed")
	if b := verify(t, recs, without(cps, 20), key, audit.Expect{Cadence: cad, Now: last}); b != nil {
		t.Fatalf("record 20 two seconds old is not overdue yet: %v", b)
	}
	// By time: a stretch longer than the interval with no checkpoint.
	slow := &audit.Cadence{Every: 100, Interval: 3 * time.Second, Grace: time.Second}
	if b := verify(t, recs, cps, key, audit.Expect{Cadence: slow, Now: last}); b != nil {
		t.Fatalf("intact, by time: %v", b)
	}
	wantBreak(t, verify(t, recs, without(cps, 10), key, audit.Expect{Cadence: slow, Now: last}), 15, "records 6 to 15")
	// The tail: record 16 waited far longer than the interval.
	wantBreak(t, verify(t, recs[:16], cps[:3], key, audit.Expect{Cadence: slow, Now: last.Add(time.Minute)}), 16, "first is")
}

func TestCheckpointFile(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, cps := chain(t, key, 4, time.Unix(1_800_000_000, 0), 2, 4)
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	f, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		if err := f.Append(c); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	b, _ := os.ReadFile(path)
	back, err := audit.ReadCheckpoints(bytes.NewReader(b))
	if err != nil || len(back) != 2 || back[1].Seq != 4 || back[1].Hash != cps[1].Hash || !bytes.Equal(back[1].Signature, cps[1].Signature) {
		t.Fatalf("read back %+v %v", back, err)
	}
	if err := back[0].Verify(key.Public()); err != nil {
		t.Fatal(err)
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	for name, bad := range map[string]string{
		"unknown member":   strings.Replace(line, `"seq"`, `"seq":2,"extra"`, 1),
		"short hash":       strings.Replace(line, `"hash":"`, `"hash":"00`, 1),
		"no signature":     strings.Replace(line, `"signature":`, `"x":`, 1),
		"trailing data":    line + " {}",
		"not JSON":         "seq=2",
		"duplicated field": strings.Replace(line, `{"seq":2`, `{"seq":2,"seq":3`, 1),
	} {
		if _, err := audit.ReadCheckpoints(strings.NewReader(line + "\n" + bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzReadCheckpoints(f *testing.F) {
	f.Add(`{"seq":1,"hash":"` + strings.Repeat("ab", 32) + `","time":"2026-12-02T00:00:00Z","signature":"MEUCIQ=="}` + "\n")
	f.Add("\n\n{}\n")
	f.Fuzz(func(t *testing.T, s string) {
		cps, err := audit.ReadCheckpoints(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, c := range cps {
			if c.Seq == 0 || len(c.Signature) == 0 || c.Time.IsZero() {
				t.Fatalf("accepted %+v", c)
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := audit.ParseCheckpoint(b); err != nil || back.Seq != c.Seq || back.Hash != c.Hash {
				t.Fatalf("%s does not read back: %v", b, err)
			}
		}
	})
}
