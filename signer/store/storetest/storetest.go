// Package storetest is the conformance suite every store.Store runs: its
// tests call Run with a function that opens a fresh, empty store. The same
// assertions on SQLite and PostgreSQL are what makes the two one store:
// every single-use rule raced from many goroutines at once, the one
// pending order per user, a state change and its audit record committed
// or rolled back together, one audit chain under concurrent writers, no
// lost update of a counter, and every field of every row read back as
// written.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
)

// Racers is how many goroutines race for each single-use value.
const Racers = 100

// Run runs the suite; open returns a new empty store, closed by the test.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("SingleUse", func(t *testing.T) { testSingleUse(t, open(t)) })
	t.Run("OnePendingOrder", func(t *testing.T) { testOnePendingOrder(t, open(t)) })
	t.Run("AuditWithItsChange", func(t *testing.T) { testAuditWithItsChange(t, open(t)) })
	t.Run("ExistsGoesOn", func(t *testing.T) { testExistsGoesOn(t, open(t)) })
	t.Run("OneChainManyWriters", func(t *testing.T) { testOneChain(t, open(t)) })
	t.Run("NoLostUpdate", func(t *testing.T) { testNoLostUpdate(t, open(t)) })
	t.Run("PIVCards", func(t *testing.T) { testPIVCards(t, open(t)) })
}

var ctx = context.Background()

// now is a time with a nanosecond part, which a store must keep.
var now = time.Date(2026, 12, 2, 10, 11, 12, 123456789, time.UTC)

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Reader) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func user(id string) *store.User {
	return &store.User{ID: id, Name: "Karen " + id, Phone: "+4512345678", Created: now, Password: "argon2id$v",
		SigningKey: []byte{1, 2, 3}, Certificate: []byte{4, 5, 6}}
}

func order(ref, user string) *store.Order {
	return &store.Order{Ref: ref, RP: "bank", User: user, Kind: store.KindAuth, State: store.StatePending, EndUserIP: "192.0.2.1",
		AutoStartToken: ref + "-a", QRStartToken: ref + "-q", QRStartSecret: "s", Created: now, Expires: now.Add(3 * time.Minute),
		Factors: []string{}}
}

// same fails the test when got is not want, naming what.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s read back as\n%+v\nwritten as\n%+v", what, got, want)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	u := user("karen")
	u.Disabled, u.Failures, u.Blocks, u.BlockedUntil = true, 3, 1, now.Add(time.Hour)
	u.Identity = store.Identity{Surname: "Ørsted", GivenNames: "Karen", DateOfBirth: "1985-04-17", Nationality: "DNK"}
	rp := &store.RP{ID: "bank", Name: "Danske Test", Fingerprint: "f1", CertPEM: []byte("-----BEGIN CERTIFICATE-----"), Created: now}
	officer := &store.Caller{Role: store.RoleOfficer, ID: "so", Name: "Security Officer", Fingerprint: "f2", Created: now}
	o := order("o1", "karen")
	o.Kind, o.Hint, o.UserVisibleData, o.DocumentDigest = store.KindSign, "userSign", "SGVq", bytes.Repeat([]byte{7}, 32)
	o.Factors, o.Challenge, o.Payment, o.Device, o.UserVerification, o.RequiresDocument =
		[]string{"password", "otp"}, "codecard:C1:7", `{"amountMinor":"100"}`, "d1", "pin", true
	act := &store.Activation{ID: "act", Order: "o1", User: "karen", KeyID: "k", Digest: make([]byte, 32), Expires: now.Add(time.Minute),
		MAC: []byte{9, 9}, Created: now}
	hotp := &store.OTPToken{Serial: "H1", Kind: store.TokenHOTP, Hash: "sha1", Digits: 6, Seed: []byte{1}, User: "karen", Counter: 5,
		Lockout: store.Lockout{Failures: 2, Blocks: 1, BlockedUntil: now}, Created: now}
	yubi := &store.OTPToken{Serial: "Y1", Kind: store.TokenYubico, Seed: []byte{2}, Counter: -1, Created: now, PublicID: "ccccccbcgujh",
		PrivateID: "0123456789ab"}
	keys := make([]int, 148)
	for i := range keys {
		keys[i] = 1000 + i
	}
	card := &store.CodeCard{Serial: "C1", User: "karen", Status: store.CardActive, Keys: keys, Offered: -1, Created: now}
	dev := &store.Device{ID: "d1", User: "karen", Name: "Pixel", PublicKey: []byte{0x30, 1}, KeyStorage: "software", Biometry: "none",
		Activation: "a1", Created: now}
	sms := &store.SMSAttempt{ID: "s1", Message: "m1", Order: "o1", User: "karen", ToMasked: "+45 •• 78", Adapter: "kannel",
		State: store.SMSSending, Created: now}
	rec := audit.Record{Time: now, Event: "order.started", Actor: "rp:bank", Subject: "order:o1", Outcome: "ok",
		Details: map[string]string{"kind": "sign", "quote": `"'` + "\u202e"}}
	var stored audit.Stored
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateUser(u) },
			func() error { return tx.CreateRP(rp) },
			func() error { return tx.CreateOfficer(officer) },
			func() error { return tx.CreateOrder(o) },
			func() error { return tx.CreateActivation(act) },
			func() error { return tx.CreateOTPToken(hotp) },
			func() error { return tx.CreateOTPToken(yubi) },
			func() error { return tx.CreateCodeCard(card) },
			func() error { return tx.CreateDevice(dev) },
			func() error { return tx.CreateSMSAttempt(sms) },
			func() error {
				return tx.RecordChallenge(store.ChallengeIssue{Order: "o1", User: "karen", Factor: "codecard", Issued: now})
			},
			func() (err error) { stored, err = tx.Audit(rec); return err },
			func() error {
				return tx.AddCheckpoint(audit.Checkpoint{Seq: 1, Hash: stored.Hash, Time: now, Signature: []byte{5}})
			},
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	if stored.Record.Seq != 1 {
		t.Fatalf("the first audit record has seq %d", stored.Record.Seq)
	}
	view(t, s, func(r store.Reader) error {
		got, err := r.User("karen")
		if err != nil {
			return err
		}
		same(t, "a user", got, u)
		gotRP, err := r.RP("bank")
		if err != nil {
			return err
		}
		same(t, "a relying party", gotRP, rp)
		c, err := r.CallerByFingerprint("f2")
		if err != nil {
			return err
		}
		same(t, "an officer", c, officer)
		for _, get := range []func() (*store.Order, error){
			func() (*store.Order, error) { return r.Order("o1") },
			func() (*store.Order, error) { return r.OrderByQRToken("o1-q") },
			func() (*store.Order, error) { return r.OrderByAutoStartToken("o1-a") },
		} {
			got, err := get()
			if err != nil {
				return err
			}
			same(t, "an order", got, o)
		}
		pending, err := r.PendingOrders("karen")
		if err != nil || len(pending) != 1 {
			return fmt.Errorf("pending orders %v %v", pending, err)
		}
		counts, err := r.OrderCounts()
		if err != nil {
			return err
		}
		same(t, "the order counts", counts, map[store.OrderState]int{store.StatePending: 1})
		gotAct, err := r.Activation("act")
		if err != nil {
			return err
		}
		same(t, "an activation", gotAct, act)
		for _, want := range []*store.OTPToken{hotp, yubi} {
			got, err := r.OTPToken(want.Serial)
			if err != nil {
				return err
			}
			same(t, "an OTP token", got, want)
		}
		if ts, err := r.OTPTokens("karen"); err != nil || len(ts) != 1 {
			return fmt.Errorf("karen's tokens %v %v", ts, err)
		}
		gotCard, err := r.CodeCard("C1")
		if err != nil {
			return err
		}
		card.Spent = make([]bool, 148)
		same(t, "a code card", gotCard, card)
		gotDev, err := r.Device("d1")
		if err != nil {
			return err
		}
		same(t, "a device", gotDev, dev)
		attempts, err := r.SMSAttempts("karen", 10)
		if err != nil || len(attempts) != 1 {
			return fmt.Errorf("SMS attempts %v %v", attempts, err)
		}
		sms.Updated = sms.Created
		same(t, "an SMS attempt", attempts[0], sms)
		forOrder, forUser, err := r.CountSMS("o1", "karen", now.Add(-time.Minute))
		if err != nil || forOrder != 1 || forUser != 1 {
			return fmt.Errorf("CountSMS %d %d %v", forOrder, forUser, err)
		}
		var recs []audit.Stored
		if err := r.AuditRecords(1, func(s audit.Stored) (bool, error) { recs = append(recs, s); return true, nil }); err != nil {
			return err
		}
		if len(recs) != 1 {
			return fmt.Errorf("%d audit records", len(recs))
		}
		same(t, "an audit record", recs[0], stored)
		seq, head, err := r.AuditHead()
		if err != nil || seq != 1 || head != stored.Hash {
			return fmt.Errorf("audit head %d %x %v", seq, head, err)
		}
		cps, err := r.AuditCheckpoints()
		if err != nil || len(cps) != 1 || cps[0].Hash != stored.Hash || !cps[0].Time.Equal(now) {
			return fmt.Errorf("checkpoints %+v %v", cps, err)
		}
		if last, err := r.LastCheckpoint(); err != nil || last != 1 {
			return fmt.Errorf("last checkpoint %d %v", last, err)
		}
		return nil
	})
	// Counting: challenges per order and per user, the oldest.
	update(t, s, func(tx store.Tx) error {
		if err := tx.RecordChallenge(store.ChallengeIssue{Order: "o1", User: "karen", Factor: "codecard", Issued: now.Add(time.Second)}); err != nil {
			return err
		}
		n, err := tx.CountChallenges("o1", "karen", "codecard", now.Add(-time.Minute))
		if err != nil {
			return err
		}
		same(t, "the challenge counts", n, store.ChallengeCounts{ForOrder: 2, ForUser: 2, OldestForUser: now})
		n, err = tx.CountChallenges("o2", "nobody", "codecard", now.Add(-time.Minute))
		same(t, "no challenges", n, store.ChallengeCounts{})
		return err
	})
	// Updates write what they say, and a missing row is ErrNotFound.
	update(t, s, func(tx store.Tx) error {
		u.Name, u.Disabled, u.Identity = "Karen B", false, store.Identity{}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := tx.UpdateUser(user("nobody")); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("updating a missing user: %v", err)
		}
		officer.Disabled = true
		if err := tx.UpdateOfficer(officer); err != nil {
			return err
		}
		if ok, err := tx.UpdateSMSAttempt("s1", store.SMSDelivered, "gw-1", "", now.Add(time.Second)); err != nil || !ok {
			return fmt.Errorf("UpdateSMSAttempt %v %v", ok, err)
		}
		if ok, err := tx.UpdateSMSAttempt("s1", store.SMSFailed, "", "late", now.Add(2*time.Second)); err != nil || ok {
			return fmt.Errorf("a delivered SMS changed again: %v %v", ok, err)
		}
		return tx.DeleteOTPToken("Y1")
	})
	view(t, s, func(r store.Reader) error {
		got, err := r.User("karen")
		if err != nil {
			return err
		}
		same(t, "an updated user", got, u)
		if os, err := r.Officers(); err != nil || len(os) != 1 || !os[0].Disabled {
			return fmt.Errorf("officers %v %v", os, err)
		}
		if _, err := r.OTPToken("Y1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("a deleted token: %v", err)
		}
		a, err := r.SMSAttempts("", 10)
		if err != nil || len(a) != 1 || a[0].State != store.SMSDelivered || a[0].GatewayID != "gw-1" || a[0].Reason != "" {
			return fmt.Errorf("the SMS attempt %+v %v", a, err)
		}
		return nil
	})
}

// race runs fn from Racers goroutines released together, each in its own
// write transaction, and counts the trues.
func race(t *testing.T, s store.Store, fn func(tx store.Tx, i int) (bool, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	wins := make(chan bool, Racers)
	errs := make(chan error, Racers)
	for i := range Racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var ok bool
			err := s.Update(ctx, func(tx store.Tx) (err error) {
				ok, err = fn(tx, i)
				return err
			})
			if err != nil {
				errs <- err
			}
			wins <- ok && err == nil
		}()
	}
	close(start)
	wg.Wait()
	close(wins)
	close(errs)
	for err := range errs {
		t.Errorf("a racer: %v", err)
	}
	n := 0
	for w := range wins {
		if w {
			n++
		}
	}
	return n
}

func testSingleUse(t *testing.T, s store.Store) {
	keys := make([]int, 148)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateUser(user("karen")) },
			func() error { return tx.CreateUser(user("bo")) },
			func() error {
				o := order("o1", "karen")
				o.Challenge, o.AppChallenge = "c0", "a0"
				o.State = store.StateComplete
				return tx.CreateOrder(o)
			},
			func() error { o := order("qr", ""); return tx.CreateOrder(o) },
			func() error {
				return tx.CreateActivation(&store.Activation{ID: "act", Order: "o1", User: "karen", KeyID: "k", Digest: make([]byte, 32),
					Expires: now.Add(time.Minute), MAC: []byte{1}, Created: now})
			},
			func() error {
				return tx.CreateOTPToken(&store.OTPToken{Serial: "H1", Kind: store.TokenHOTP, Hash: "sha1", Digits: 6, Seed: []byte{1}, Created: now})
			},
			func() error {
				return tx.CreateOTPToken(&store.OTPToken{Serial: "T1", Kind: store.TokenTOTP, Hash: "sha1", Digits: 6, Step: 30, Seed: []byte{1},
					Counter: -1, Created: now})
			},
			func() error {
				return tx.CreateCodeCard(&store.CodeCard{Serial: "C1", User: "karen", Status: store.CardActive, Keys: keys, Offered: -1, Created: now})
			},
			func() error {
				return tx.CreateDevice(&store.Device{ID: "d1", User: "karen", Name: "P", PublicKey: []byte{1}, KeyStorage: "software",
					Biometry: "none", Activation: "x", Created: now})
			},
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	for name, fn := range map[string]func(tx store.Tx, i int) (bool, error){
		"an activation":          func(tx store.Tx, _ int) (bool, error) { return tx.SpendActivation("act", now) },
		"an HOTP counter":        func(tx store.Tx, _ int) (bool, error) { return tx.AdvanceOTP("H1", 7, 0) },
		"a TOTP step":            func(tx store.Tx, _ int) (bool, error) { return tx.AdvanceOTP("T1", 1000, 0) },
		"a code-card entry":      func(tx store.Tx, _ int) (bool, error) { return tx.SpendCodeCardEntry("C1", 17) },
		"a code card's printing": func(tx store.Tx, _ int) (bool, error) { return tx.MarkCodeCardPrinted("C1", now) },
		"a challenge":            func(tx store.Tx, _ int) (bool, error) { return tx.SwapChallenge("o1", "c0", "spent:c0") },
		"an app challenge":       func(tx store.Tx, _ int) (bool, error) { return tx.SwapAppChallenge("o1", "a0", "spent:a0") },
		"an enrolment":           func(tx store.Tx, _ int) (bool, error) { return tx.MarkOrderEnrolled("o1", now) },
		"a device's revocation":  func(tx store.Tx, _ int) (bool, error) { return tx.RevokeDevice("d1", "so", now) },
		"a nonce":                func(tx store.Tx, _ int) (bool, error) { return tx.SpendNonce("d1", "n1", now, now.Add(-time.Minute)) },
		"a QR order's binding": func(tx store.Tx, i int) (bool, error) {
			return tx.BindOrder("qr", "bo", fmt.Sprintf("device-%d", i))
		},
	} {
		t.Run(name, func(t *testing.T) {
			if n := race(t, s, fn); n != 1 {
				t.Fatalf("%d of %d concurrent uses of %s succeeded, want exactly 1", n, Racers, name)
			}
			// And again afterwards: still spent.
			var again bool
			update(t, s, func(tx store.Tx) (err error) { again, err = fn(tx, 0); return err })
			if again {
				t.Fatalf("%s was used again after it was spent", name)
			}
		})
	}
	// The counter moved to the used one, and an older code stays refused.
	view(t, s, func(r store.Reader) error {
		h, err := r.OTPToken("H1")
		if err != nil || h.Counter != 8 {
			return fmt.Errorf("HOTP counter %v %v, want 8", h, err)
		}
		c, err := r.CodeCard("C1")
		if err != nil || c.Unspent() != 147 || !c.Spent[17] || c.Printed.IsZero() {
			return fmt.Errorf("code card %v %v", c, err)
		}
		return nil
	})
	var older bool
	update(t, s, func(tx store.Tx) (err error) { older, err = tx.AdvanceOTP("H1", 6, 0); return err })
	if older {
		t.Fatal("an older HOTP counter was accepted after a newer one")
	}
}

func testOnePendingOrder(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(user("karen")) })
	n := race(t, s, func(tx store.Tx, i int) (bool, error) {
		err := tx.CreateOrder(order(fmt.Sprint("o", i), "karen"))
		if errors.Is(err, store.ErrExists) {
			return false, nil
		}
		return err == nil, err
	})
	if n != 1 {
		t.Fatalf("%d of %d concurrent orders for one user were created, want 1", n, Racers)
	}
	// An expired order frees the user; another order binds to her only
	// when she has none pending.
	err := s.Update(ctx, func(tx store.Tx) error {
		expired, err := tx.ExpireOrders(now.Add(time.Hour))
		if err != nil {
			return err
		}
		if len(expired) != 1 || expired[0].State != store.StateFailed || expired[0].Hint != "expiredTransaction" {
			return fmt.Errorf("expired %+v", expired)
		}
		if err := tx.CreateOrder(order("again", "karen")); err != nil {
			return fmt.Errorf("after expiry: %w", err)
		}
		return tx.CreateOrder(order("qr", ""))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.BindOrder("qr", "karen", "d1")
		return err
	})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("binding a second pending order to a user: %v", err)
	}
}

var errRollback = errors.New("storetest: roll back")

func testAuditWithItsChange(t *testing.T, s store.Store) {
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(user("karen")); err != nil {
			return err
		}
		if _, err := tx.Audit(audit.Record{Time: now, Event: "admin.user.created", Actor: "officer:so", Outcome: "ok"}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update returned %v, not fn's error", err)
	}
	view(t, s, func(r store.Reader) error {
		if _, err := r.User("karen"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a rolled back user is there: %v", err)
		}
		if seq, _, err := r.AuditHead(); err != nil || seq != 0 {
			t.Errorf("a rolled back audit record is there: %d %v", seq, err)
		}
		return nil
	})
	// A failing statement inside fn takes the whole transaction with it.
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Audit(audit.Record{Time: now, Event: "admin.user.created", Actor: "officer:so", Outcome: "ok"}); err != nil {
			return err
		}
		if err := tx.CreateUser(user("bo")); err != nil {
			return err
		}
		return tx.CreateUser(user("bo"))
	})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("a duplicate user: %v", err)
	}
	view(t, s, func(r store.Reader) error {
		if _, err := r.User("bo"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a user of a failed transaction is there: %v", err)
		}
		if seq, _, err := r.AuditHead(); err != nil || seq != 0 {
			t.Errorf("a record of a failed transaction is there: %d %v", seq, err)
		}
		return nil
	})
}

// testExistsGoesOn: a duplicate refused by a Create method leaves the
// transaction usable, in every dialect.
func testExistsGoesOn(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateUser(user("karen")); err != nil {
			return err
		}
		if err := tx.CreateUser(user("karen")); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("a duplicate user: %v", err)
		}
		if err := tx.CreateOrder(order("o1", "karen")); err != nil {
			return err
		}
		if err := tx.CreateOrder(order("o2", "karen")); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("a second pending order: %v", err)
		}
		return tx.CreateUser(user("bo"))
	})
	view(t, s, func(r store.Reader) error {
		us, err := r.Users()
		if err != nil || len(us) != 2 {
			return fmt.Errorf("users %v %v", us, err)
		}
		return nil
	})
}

// testOneChain appends from many writers at once: the records are one
// chain, numbered without gaps, that verifies.
func testOneChain(t *testing.T, s store.Store) {
	const writers, each = 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// One to three records a transaction: a transaction
				// that appends several follows its own head.
				err := s.Update(ctx, func(tx store.Tx) error {
					for j := range 1 + i%3 {
						st, err := tx.Audit(audit.Record{Time: now, Event: "order.started", Actor: fmt.Sprint("rp:", w), Subject: fmt.Sprint("order:", i),
							Outcome: "ok", Details: map[string]string{"w": fmt.Sprint(w), "j": fmt.Sprint(j)}})
						if err != nil {
							return err
						}
						if seq, head, err := tx.AuditHead(); err != nil || seq != st.Record.Seq || head != st.Hash {
							return fmt.Errorf("after appending %d the transaction's head is %d %x %v", st.Record.Seq, seq, head, err)
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var recs []audit.Stored
	view(t, s, func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) { recs = append(recs, s); return true, nil })
	})
	want := 0
	for i := range each {
		want += writers * (1 + i%3)
	}
	if len(recs) != want {
		t.Fatalf("%d records, want %d", len(recs), want)
	}
	for i, r := range recs {
		if r.Record.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Record.Seq)
		}
	}
	rep, err := audit.Verify(audit.Records(recs), nil, nil, audit.Expect{})
	if err != nil || rep.Records != uint64(want) {
		t.Fatalf("the chain: %+v %v", rep, err)
	}
}

// testNoLostUpdate increments a user's failure count from many writers,
// each reading it and writing it back, as the factor rules do: none is
// lost.
func testNoLostUpdate(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(user("karen")) })
	race(t, s, func(tx store.Tx, _ int) (bool, error) {
		u, err := tx.User("karen")
		if err != nil {
			return false, err
		}
		u.Failures++
		return true, tx.UpdateUser(u)
	})
	view(t, s, func(r store.Reader) error {
		u, err := r.User("karen")
		if err != nil || u.Failures != Racers {
			t.Fatalf("%d failures counted by %d writers (%v)", u.Failures, Racers, err)
		}
		return nil
	})
}

// testPIVCards: a card is enrolled once at a time, however many officers
// enrol it at once; revoked, it may be enrolled again, and the store
// keeps both.
func testPIVCards(t *testing.T, s store.Store) {
	card := func(id string, at time.Time) *store.PIVCard {
		return &store.PIVCard{ID: id, Serial: 4000000001, User: "karen", Slot: "9a", PublicKey: []byte{1}, Certificate: []byte{2},
			AttestSlot: []byte{3}, AttestCard: []byte{4}, Firmware: "5.7.1", PINPolicy: "once", TouchPolicy: "never",
			FormFactor: "USB-C Keychain", Created: at, CreatedBy: "officer:ann"}
	}
	update(t, s, func(tx store.Tx) error { return tx.CreateUser(user("karen")) })
	if n := race(t, s, func(tx store.Tx, i int) (bool, error) {
		err := tx.CreatePIVCard(card(fmt.Sprint("c", i), now))
		if errors.Is(err, store.ErrExists) {
			return false, nil
		}
		return err == nil, err
	}); n != 1 {
		t.Fatalf("%d enrolments of one card, want 1", n)
	}
	var first *store.PIVCard
	view(t, s, func(r store.Reader) (err error) {
		first, err = r.PIVCard(4000000001)
		return err
	})
	want := card(first.ID, now)
	same(t, "the enrolled card", first, want)
	update(t, s, func(tx store.Tx) error {
		if ok, err := tx.RevokePIVCard(4000000001, "officer:bo", now.Add(time.Minute)); !ok || err != nil {
			return fmt.Errorf("revoke: %v %v", ok, err)
		}
		if ok, err := tx.RevokePIVCard(4000000001, "officer:bo", now.Add(2*time.Minute)); ok || err != nil {
			return fmt.Errorf("revoke again: %v %v", ok, err)
		}
		return nil
	})
	view(t, s, func(r store.Reader) error {
		c, err := r.PIVCard(4000000001)
		if err != nil || c.Active() || c.RevokedBy != "officer:bo" || !c.Revoked.Equal(now.Add(time.Minute)) {
			return fmt.Errorf("the revoked card: %+v %v", c, err)
		}
		if _, err := r.PIVCard(7); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("a card never enrolled: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.CreatePIVCard(card("again", now.Add(time.Hour))) })
	view(t, s, func(r store.Reader) error {
		c, err := r.PIVCard(4000000001)
		if err != nil || c.ID != "again" || !c.Active() {
			return fmt.Errorf("the card enrolled again: %+v %v", c, err)
		}
		cs, err := r.PIVCards("karen")
		if err != nil || len(cs) != 2 || cs[0].ID != first.ID || cs[1].ID != "again" {
			return fmt.Errorf("karen's cards: %v %v", cs, err)
		}
		if cs, err := r.PIVCards("nobody"); err != nil || len(cs) != 0 {
			return fmt.Errorf("nobody's cards: %v %v", cs, err)
		}
		return nil
	})
	// An officer's card: listed as the officer's, never as a user's; a
	// serial live for a user is not the officer's too; a card is one
	// holder's.
	officer := card("ann-card", now)
	officer.Serial, officer.User, officer.Officer, officer.Certificate = 4000000002, "", "ann", []byte{}
	update(t, s, func(tx store.Tx) error { return tx.CreatePIVCard(officer) })
	taken := card("taken", now)
	taken.User, taken.Officer = "", "bo"
	both := card("both", now)
	both.Serial, both.Officer = 4000000003, "bo"
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreatePIVCard(taken) }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a user's live serial enrolled for an officer: %v", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreatePIVCard(both) }); err == nil {
		t.Fatal("a card of a user and an officer at once was stored")
	}
	view(t, s, func(r store.Reader) error {
		cs, err := r.OfficerPIVCards("ann")
		if err != nil || len(cs) != 1 {
			return fmt.Errorf("ann's cards: %v %v", cs, err)
		}
		same(t, "an officer's card", cs[0], officer)
		if all, err := r.PIVCards(""); err != nil || len(all) != 2 {
			return fmt.Errorf("the users' cards: %v %v", all, err)
		}
		if all, err := r.OfficerPIVCards(""); err != nil || len(all) != 1 {
			return fmt.Errorf("the officers' cards: %v %v", all, err)
		}
		return nil
	})
}
