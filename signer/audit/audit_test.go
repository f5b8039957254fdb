package audit_test

import (
	"encoding/json"
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
		i := 0
		rep, err := audit.Verify(func() (audit.Stored, bool, error) {
			if i == len(rs) {
				return audit.Stored{}, false, nil
			}
			i++
			return rs[i-1], true, nil
		}, nil, nil)
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
