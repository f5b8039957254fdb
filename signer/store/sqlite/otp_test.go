package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/sqlite"
)

// advance submits the use of counter `used` from n goroutines on db and
// counts the successes.
func advance(db *sqlite.DB, serial string, used int64, n int) (int64, error) {
	var wins atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ok bool
			errs <- db.Update(context.Background(), func(tx store.Tx) (err error) {
				ok, err = tx.AdvanceOTP(serial, used, 0)
				return err
			})
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return wins.Load(), nil
}

func mustAdvance(t *testing.T, db *sqlite.DB, serial string, used int64, n int) int64 {
	t.Helper()
	wins, err := advance(db, serial, used, n)
	if err != nil {
		t.Fatal(err)
	}
	return wins
}

// TestMain doubles as the second process of
// TestOTPUsedOnceAcrossProcesses, when that test starts this binary with
// SEGL_TEST_ADVANCE_DB set; otherwise it runs the tests.
func TestMain(m *testing.M) {
	path := os.Getenv("SEGL_TEST_ADVANCE_DB")
	if path == "" {
		os.Exit(m.Run())
	}
	db, err := sqlite.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-time.After(time.Until(time.Unix(0, mustInt(os.Getenv("SEGL_TEST_ADVANCE_AT")))))
	wins, err := advance(db, "tok", 7, 25)
	db.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wins=%d\n", wins)
	os.Exit(0)
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Fifty submissions of one code, from two processes on one database file,
// 25 goroutines each: exactly one is accepted.
func TestOTPUsedOnceAcrossProcesses(t *testing.T) {
	db, path := open(t)
	for _, tok := range []*store.OTPToken{
		{Serial: "tok", Kind: "hotp", Hash: "sha1", Digits: 6, Seed: []byte{1}, Created: time.Now()},
		{Serial: "ttok", Kind: "totp", Hash: "sha1", Digits: 6, Step: 30, Seed: []byte{1}, Counter: -1, Created: time.Now()},
	} {
		if err := db.Update(context.Background(), func(tx store.Tx) error { return tx.CreateOTPToken(tok) }); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(500 * time.Millisecond)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SEGL_TEST_ADVANCE_DB="+path, "SEGL_TEST_ADVANCE_AT="+strconv.FormatInt(at.UnixNano(), 10))
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(at))
	here := mustAdvance(t, db, "tok", 7, 25)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, out.String())
	}
	var there int64
	i := strings.Index(out.String(), "wins=")
	if i < 0 {
		t.Fatalf("helper process said %q", out.String())
	}
	if _, err := fmt.Sscanf(out.String()[i:], "wins=%d", &there); err != nil {
		t.Fatalf("helper process said %q", out.String())
	}
	if here+there != 1 {
		t.Fatalf("%d + %d submissions of one HOTP code were accepted", here, there)
	}
	var tok *store.OTPToken
	db.View(context.Background(), func(r store.Reader) (err error) { tok, err = r.OTPToken("tok"); return err })
	if tok.Counter != 8 {
		t.Fatalf("the next counter is %d, want 8", tok.Counter)
	}
	// An earlier counter is never accepted again; a later one is.
	if n := mustAdvance(t, db, "tok", 6, 5); n != 0 {
		t.Fatalf("an older counter was accepted %d times", n)
	}
	if n := mustAdvance(t, db, "tok", 9, 5); n != 1 {
		t.Fatalf("a later counter was accepted %d times", n)
	}
	// TOTP: a step is used once, an older step never.
	if n := mustAdvance(t, db, "ttok", 100, 20); n != 1 {
		t.Fatalf("one TOTP step accepted %d times", n)
	}
	if n := mustAdvance(t, db, "ttok", 99, 5); n != 0 {
		t.Fatalf("an older TOTP step accepted %d times", n)
	}
}

// A Yubico token's position only moves forward, one winner for each, and
// its public ID belongs to one token.
func TestYubicoPositionForwardOnly(t *testing.T) {
	db, err := sqlite.Open(t.TempDir() + "/segl.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	yk := &store.OTPToken{Serial: "4711", Kind: "yubico", Seed: []byte{1}, Counter: -1, Created: time.Now(),
		PublicID: "ccccccbchvth", PrivateID: "8792ebfe26cc"}
	err = db.Update(context.Background(), func(tx store.Tx) error { return tx.CreateOTPToken(yk) })
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		pos  int64
		wins int64
	}{{256, 1}, {256, 0}, {255, 0}, {257, 1}, {2 << 8, 1}, {257, 0}} {
		if got := mustAdvance(t, db, "4711", step.pos, 10); got != step.wins {
			t.Fatalf("position %d: %d wins, want %d", step.pos, got, step.wins)
		}
	}
	twin := *yk
	twin.Serial = "4712"
	err = db.Update(context.Background(), func(tx store.Tx) error { return tx.CreateOTPToken(&twin) })
	if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), "public ID ccccccbchvth") {
		t.Fatalf("a second token with one public ID: %v", err)
	}
	// A Yubico token without its IDs is refused by the schema.
	bare := *yk
	bare.Serial, bare.PublicID = "4713", ""
	if err := db.Update(context.Background(), func(tx store.Tx) error { return tx.CreateOTPToken(&bare) }); err == nil {
		t.Fatal("a Yubico token without a public ID was stored")
	}
}
