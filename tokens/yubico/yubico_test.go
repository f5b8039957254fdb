package yubico_test

import (
	"crypto/aes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/segl/segl/tokens/yubico"
)

// softAES decrypts in software: the HSM path is run by the vectors
// (`segl vectors verify`) and the daemon's tests; this checks the parsing.
type softAES []byte

func (k softAES) DecryptBlock(b []byte) ([]byte, error) {
	c, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 16)
	c.Decrypt(out, b)
	return out, nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// From yubico-otp.json (python-yubiotp): key ecde18db…, private ID
// 8792ebfe26cc, use counter 1, session counter 0.
const (
	key     = "ecde18dbe76fbd0c33330f1c354871db"
	private = "8792ebfe26cc"
	good    = "ccccccbchvthfvknvkckigcvrvbvugiblvhelgdthvhe"
)

func TestCheck(t *testing.T) {
	o, err := yubico.Parse(strings.ToUpper(good)) // caps lock
	if err != nil {
		t.Fatal(err)
	}
	if o.PublicID != "ccccccbchvth" {
		t.Fatalf("public ID %q", o.PublicID)
	}
	c, err := yubico.Check(softAES(mustHex(key)), mustHex(private), o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Use != 1 || c.Session != 0 || c.Position() != 256 {
		t.Fatalf("%+v", c)
	}
	if _, err := yubico.Check(softAES(mustHex(key)), mustHex("8792ebfe26cd"), o); !errors.Is(err, yubico.ErrInvalid) {
		t.Fatalf("another private ID: %v", err)
	}
	o.Block[3] ^= 1
	if _, err := yubico.Check(softAES(mustHex(key)), mustHex(private), o); !errors.Is(err, yubico.ErrInvalid) {
		t.Fatalf("a changed block: %v", err)
	}
}

func TestPositionOrders(t *testing.T) {
	a := yubico.Counters{Use: 1, Session: 255}
	b := yubico.Counters{Use: 2, Session: 0}
	if a.Position() >= b.Position() {
		t.Fatal("a power-up must come after every OTP of the last session")
	}
}

func TestParseRefusals(t *testing.T) {
	for name, s := range map[string]string{
		"digits":     "123456",
		"short":      good[:43],
		"not modhex": good[:40] + "abcd",
		"odd ID":     "c" + good,
		"too long":   strings.Repeat("c", 34) + good,
	} {
		if _, err := yubico.Parse(s); !errors.Is(err, yubico.ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestModhex(t *testing.T) {
	b := mustHex("0123456789abcdef")
	if s := yubico.Encode(b); s != "cbdefghijklnrtuv" {
		t.Fatal(s)
	}
	back, err := yubico.Decode("cbdefghijklnrtuv")
	if err != nil || hex.EncodeToString(back) != "0123456789abcdef" {
		t.Fatal(back, err)
	}
}

func TestParseCSV(t *testing.T) {
	const file = `# ykman otp yubiotp --config-output
4711,ccccccbchvth,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db,,2026-11-22T10:00:00,
,vvvvvvcucrlc,0a1b2c3d4e5f,000102030405060708090a0b0c0d0e0f,,2026-11-22T10:01:00,
`
	b, err := yubico.ParseCSV(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Keys) != 2 || b.Keys[0].Serial != "4711" || b.Keys[1].Serial != "vvvvvvcucrlc" || hex.EncodeToString(b.Keys[1].PrivateID) != "0a1b2c3d4e5f" {
		t.Fatalf("%+v %+v", b.Keys[0], b.Keys[1])
	}
	b.Zero()
	if hex.EncodeToString(b.Keys[0].AESKey()) != strings.Repeat("00", 16) {
		t.Fatal("Zero left a key")
	}
	line := func(serial, pub, pid, k string) string {
		return strings.Join([]string{serial, pub, pid, k, "", "", ""}, ",") + "\n"
	}
	ok := line("1", "ccccccbchvth", private, key)
	for name, tc := range map[string]struct{ doc, want string }{
		"short key":      {ok + line("2", "cccccccccccb", private, key[:30]), "line 2: AES key"},
		"bad public ID":  {ok + line("2", "cccccccccccx", private, key), "line 2: public ID"},
		"bad private ID": {line("2", "cccccccccccb", "8792", key), "line 1: private ID"},
		"dup serial":     {ok + line("1", "cccccccccccb", private, key), "serial 1 is also line 1's"},
		"dup public ID":  {ok + line("2", "ccccccbchvth", private, key), "public ID ccccccbchvth is also line 1's"},
		"bad serial":     {line("-3", "cccccccccccb", private, key), "serial \"-3\""},
		"three fields":   {"1,ccccccbchvth,8792ebfe26cc\n", "3 fields"},
		"empty":          {"# nothing\n", "no keys"},
		"quote":          {ok + "\"2,ccccccbchvth\n", "not CSV"},
	} {
		_, err := yubico.ParseCSV(strings.NewReader(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("123456")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := yubico.Parse(s)
		if err != nil {
			return
		}
		if len(o.Block) != 16 || len(o.PublicID)%2 != 0 || len(o.PublicID) > yubico.MaxPublicID {
			t.Fatalf("accepted %q as %+v", s, o)
		}
		if yubico.Encode(o.Block) != strings.ToLower(strings.TrimSpace(s))[len(o.PublicID):] {
			t.Fatalf("%q does not round-trip", s)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add("cbdefghijklnrtuv")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := yubico.Decode(s)
		if err != nil {
			return
		}
		if yubico.Encode(b) != s {
			t.Fatalf("%q decodes to %x, which encodes otherwise", s, b)
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add("4711,ccccccbchvth,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db,,2026-11-22T10:00:00,\n")
	f.Fuzz(func(t *testing.T, doc string) {
		b, err := yubico.ParseCSV(strings.NewReader(doc))
		if err != nil {
			return
		}
		for _, k := range b.Keys {
			if len(k.AESKey()) != 16 || len(k.PrivateID) != 6 || k.Serial == "" || k.PublicID == "" {
				t.Fatalf("accepted a bad key %+v", k)
			}
		}
	})
}
