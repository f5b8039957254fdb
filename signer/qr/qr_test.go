package qr_test

import (
	"bytes"
	"errors"
	"image/png"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segl/segl/signer/qr"
)

// BankID's published example (RP API v6, "Animated QR code").
const (
	bankIDToken  = "67df3917-fa0d-44e5-b327-edcc928297f8"
	bankIDSecret = "d28db9a7-4cde-429e-a983-359be676944c"
)

func TestBankIDExample(t *testing.T) {
	want := "bankid." + bankIDToken + ".0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8"
	if got := qr.Data("bankid", bankIDToken, bankIDSecret, 0); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// The MAC for other times, checked against openssl as an independent
// implementation.
func TestAgainstOpenSSL(t *testing.T) {
	for _, tm := range []int64{1, 7, 59, 180} {
		cmd := exec.Command("openssl", "dgst", "-sha256", "-hmac", bankIDSecret, "-r")
		cmd.Stdin = strings.NewReader(strconv.FormatInt(tm, 10))
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		mac := strings.Fields(string(out))[0]
		if got := qr.Data(qr.Prefix, bankIDToken, bankIDSecret, tm); !strings.HasSuffix(got, "."+mac) {
			t.Fatalf("t=%d: %s, openssl says %s", tm, got, mac)
		}
	}
}

func TestVerify(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	data := qr.Data(qr.Prefix, bankIDToken, bankIDSecret, 10)
	p, err := qr.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := qr.Verify(p, bankIDSecret, start, start.Add(11*time.Second), 3*time.Second); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	if err := qr.Verify(p, bankIDSecret, start, start.Add(14*time.Second), 3*time.Second); !errors.Is(err, qr.ErrStale) {
		t.Fatalf("4 s old: %v", err)
	}
	if err := qr.Verify(p, bankIDSecret, start, start.Add(9*time.Second), 3*time.Second); !errors.Is(err, qr.ErrFuture) {
		t.Fatalf("future: %v", err)
	}
	if err := qr.Verify(p, "another-secret", start, start.Add(11*time.Second), 3*time.Second); !errors.Is(err, qr.ErrBadMAC) {
		t.Fatalf("other secret: %v", err)
	}
	p.Time = 11 // a later time with the old MAC
	if err := qr.Verify(p, bankIDSecret, start, start.Add(12*time.Second), 3*time.Second); !errors.Is(err, qr.ErrBadMAC) {
		t.Fatalf("altered time: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	good := qr.Data(qr.Prefix, bankIDToken, bankIDSecret, 5)
	parts := strings.Split(good, ".")
	for name, bad := range map[string]string{
		"three parts":   strings.Join(parts[:3], "."),
		"upper prefix":  "SEGL." + strings.Join(parts[1:], "."),
		"upper token":   parts[0] + "." + strings.ToUpper(parts[1]) + "." + parts[2] + "." + parts[3],
		"leading zero":  parts[0] + "." + parts[1] + ".05." + parts[3],
		"negative time": parts[0] + "." + parts[1] + ".-5." + parts[3],
		"short mac":     good[:len(good)-1],
		"upper mac":     parts[0] + "." + parts[1] + "." + parts[2] + "." + strings.ToUpper(parts[3]),
		"too long":      good + strings.Repeat("0", 200),
		"empty":         "",
	} {
		if _, err := qr.Parse(bad); !errors.Is(err, qr.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPNG(t *testing.T) {
	b, err := qr.PNG(qr.Data(qr.Prefix, bankIDToken, bankIDSecret, 0), 256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Fatalf("%v", r)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(qr.Data(qr.Prefix, bankIDToken, bankIDSecret, 0))
	f.Add("bankid.x.1.y")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := qr.Parse(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q parsed and re-formed as %q", s, p.String())
		}
	})
}
