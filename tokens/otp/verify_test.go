package otp_test

import (
	"testing"
	"time"

	"github.com/segl/segl/tokens/otp"
)

func TestMatchHOTP(t *testing.T) {
	ks := keystore(t)
	h := seed(t, ks, []byte("12345678901234567890"))
	p := otp.DefaultPolicy
	// RFC 4226 appendix D: counter 5 is 254676, counter 9 is 520489.
	if c, ok, err := p.MatchHOTP(h, otp.SHA1, 6, 0, "254676"); err != nil || !ok || c != 5 {
		t.Fatalf("within look-ahead: %d %v %v", c, ok, err)
	}
	if _, ok, _ := p.MatchHOTP(h, otp.SHA1, 6, 6, "254676"); ok {
		t.Fatal("a counter behind the next one was accepted")
	}
	p.LookAhead = 3
	if _, ok, _ := p.MatchHOTP(h, otp.SHA1, 6, 0, "520489"); ok {
		t.Fatal("a code beyond the look-ahead was accepted")
	}
	if _, _, err := p.MatchHOTP(h, otp.SHA1, 6, 0, "25467"); err != otp.ErrFormat {
		t.Fatalf("a 5-digit code: %v", err)
	}
	// Resync: counters 7 and 8 (162583, 399871), far ahead of a look-ahead of 3.
	if c, ok, err := p.Resync(h, otp.SHA1, 6, 0, "162583", "399871"); err != nil || !ok || c != 8 {
		t.Fatalf("resync: %d %v %v", c, ok, err)
	}
	if _, ok, _ := p.Resync(h, otp.SHA1, 6, 0, "162583", "520489"); ok {
		t.Fatal("two codes that are not consecutive resynchronised")
	}
}

func TestMatchTOTP(t *testing.T) {
	ks := keystore(t)
	h := seed(t, ks, []byte("12345678901234567890"))
	p := otp.DefaultPolicy
	// RFC 6238: at t=1111111109 (step 37037036) SHA-1 8 digits is 07081804.
	const at = 1111111109
	step, drift, ok, err := p.MatchTOTP(h, otp.SHA1, 8, 30, at+30, -1, 0, "07081804")
	if err != nil || !ok || step != at/30 || drift != -1 {
		t.Fatalf("one step late: step %d drift %d %v %v", step, drift, ok, err)
	}
	if _, _, ok, _ := p.MatchTOTP(h, otp.SHA1, 8, 30, at+90, -1, 0, "07081804"); ok {
		t.Fatal("a code three steps old was accepted")
	}
	if _, _, ok, _ := p.MatchTOTP(h, otp.SHA1, 8, 30, at, at/30, 0, "07081804"); ok {
		t.Fatal("the step used last was accepted again")
	}
	// A recorded drift of -3 moves the window.
	if _, _, ok, _ := p.MatchTOTP(h, otp.SHA1, 8, 30, at+90, -1, -3, "07081804"); !ok {
		t.Fatal("the recorded drift was not applied")
	}
}

func TestBlockDoubles(t *testing.T) {
	p := otp.DefaultPolicy
	for blocks, want := range map[int]time.Duration{1: 15 * time.Minute, 2: 30 * time.Minute, 3: time.Hour, 20: 24 * time.Hour} {
		if got := p.BlockFor(blocks); got != want {
			t.Errorf("block %d: %s, want %s", blocks, got, want)
		}
	}
}
