package daemon_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// wrongCode is a code-card answer that is not the right one.
func (c issuedCard) wrongCode(key string) string {
	if c.code(key) == "000000" {
		return "000001"
	}
	return "000000"
}

// The attack of issue 9: knowing the password, start an order, pass the
// password, guess the second factor four times, cancel, and again. The
// right password must not reset the count: the fifth wrong guess, in the
// second order, blocks the user.
func TestHalfLoginsDoNotResetFailures(t *testing.T) {
	t.Run("code card", func(t *testing.T) {
		e := start(t)
		e.createUser("ann", "hemmeligt1")
		card := e.issueCard("ann")
		guess := func(ref string) orderState {
			r := e.factor(ref, "codecard", card.wrongCode(e.challenge(ref).KeyNumber))
			return orderState{r.Accepted, string(r.Status), r.HintCode}
		}
		halfLogins(t, e, "ann", nil, guess)
	})
	t.Run("dynamic-linking code", func(t *testing.T) {
		e := start(t)
		e.createUser("bo", "hemmeligt1")
		guess := func(ref string) orderState {
			if e.order(ref).Challenge == "" {
				if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "dlcode"}, nil); code != 200 {
					t.Fatalf("dlcode challenge: %d", code)
				}
			}
			right, err := e.d.DLCodes.Code(e.order(ref))
			if err != nil {
				t.Fatal(err)
			}
			wrong := "000000"
			if right == wrong {
				wrong = "000001"
			}
			r := e.factor(ref, "dlcode", wrong)
			return orderState{r.Accepted, string(r.Status), r.HintCode}
		}
		halfLogins(t, e, "bo", map[string]string{"amountMinor": "99900", "currency": "EUR", "payee": "Shop"}, guess)
	})
}

type orderState struct {
	accepted     bool
	status, hint string
}

func halfLogins(t *testing.T, e *env, user string, payment map[string]string, guess func(ref string) orderState) {
	t.Helper()
	begin := func() string {
		body := map[string]any{"userId": user, "endUserIp": "192.0.2.1"}
		if payment != nil {
			body["payment"] = payment
		}
		var o struct{ OrderRef string }
		if code := e.call(e.rp, "POST", "/rp/v1/auth", body, &o); code != 200 {
			t.Fatalf("start: %d", code)
		}
		if r := e.factor(o.OrderRef, "password", "hemmeligt1"); !r.Accepted {
			t.Fatalf("password: %+v", r)
		}
		return o.OrderRef
	}
	ref := begin()
	for i := range 4 {
		if got := guess(ref); got.accepted || got.status != "pending" {
			t.Fatalf("guess %d: %+v", i+1, got)
		}
	}
	if failures, _ := e.user(user); failures != 4 {
		t.Fatalf("after four wrong guesses: %d failures", failures)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": ref}, nil)
	ref = begin()
	if failures, blocked := e.user(user); failures != 4 || blocked {
		t.Fatalf("a right password in a new order reset the count: %d failures, blocked %v", failures, blocked)
	}
	if got := guess(ref); got.accepted || got.status != "failed" || got.hint != "userBlocked" {
		t.Fatalf("the fifth wrong guess, in the second order: %+v; want the user blocked", got)
	}
	if _, blocked := e.user(user); !blocked {
		t.Fatal("the user is not blocked")
	}
	var errResp apiError
	if code := e.call(e.rp, "POST", "/rp/v1/auth", map[string]string{"userId": user, "endUserIp": "192.0.2.1"}, &errResp); code != 400 {
		t.Fatalf("a blocked user started an order: %d %+v", code, errResp)
	}
}

// Only a whole login clears the count.
func TestCompletedOrderResetsFailures(t *testing.T) {
	e := start(t)
	e.createUser("cai", "hemmeligt1")
	card := e.issueCard("cai")
	o := e.startOrder("auth", map[string]string{"userId": "cai", "endUserIp": "192.0.2.1"})
	for range 3 {
		e.factor(o.OrderRef, "codecard", card.wrongCode(e.challenge(o.OrderRef).KeyNumber))
	}
	e.factor(o.OrderRef, "password", "hemmeligt1")
	if failures, _ := e.user("cai"); failures != 3 {
		t.Fatalf("an accepted password changed the count to %d", failures)
	}
	if r := e.factor(o.OrderRef, "codecard", card.code(e.challenge(o.OrderRef).KeyNumber)); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
	if failures, _ := e.user("cai"); failures != 0 {
		t.Fatalf("a completed order left %d failures", failures)
	}
}

// Asking again shows the same key number until it is answered, in the
// same order and in a new one: a caller who knows some codes of a card
// cannot re-roll until one of them comes up.
func TestCodeCardChallengeCannotBeRerolled(t *testing.T) {
	e := start(t)
	e.createUser("dag", "hemmeligt1")
	card := e.issueCard("dag")
	o := e.startOrder("auth", map[string]string{"userId": "dag", "endUserIp": "192.0.2.1"})
	first := e.challenge(o.OrderRef)
	if again := e.challenge(o.OrderRef); again != first {
		t.Fatalf("asked again: %+v, first %+v", again, first)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
	o = e.startOrder("auth", map[string]string{"userId": "dag", "endUserIp": "192.0.2.1"})
	if again := e.challenge(o.OrderRef); again != first {
		t.Fatalf("in a new order: %+v, first %+v", again, first)
	}
	// Answered (here wrongly), the entry is spent and the next is new.
	e.factor(o.OrderRef, "codecard", card.wrongCode(first.KeyNumber))
	if next := e.challenge(o.OrderRef); next == first {
		t.Fatalf("after an answer the same key number %s again", first.KeyNumber)
	}
}

// A challenge is issued at most 1 + 3 times per order, and a user is
// given at most 20 an hour.
func TestChallengeLimits(t *testing.T) {
	e := start(t)
	e.createUser("eli", "hemmeligt1")
	e.issueCard("eli")
	ask := func(ref, typ string) (int, http.Header) {
		req := map[string]string{"orderRef": ref, "type": typ}
		var errResp apiError
		code := e.call(e.rp, "POST", "/rp/v1/challenge", req, &errResp)
		if code != 200 && errResp.ErrorCode != "tooManyRequests" {
			t.Fatalf("challenge: %d %+v", code, errResp)
		}
		return code, e.lastHeader
	}
	pay := map[string]any{"userId": "eli", "endUserIp": "192.0.2.1", "payment": map[string]string{"amountMinor": "100", "currency": "DKK", "payee": "Kiosk"}}
	var o struct{ OrderRef string }
	e.call(e.rp, "POST", "/rp/v1/auth", pay, &o)
	for i := range 4 {
		if code, _ := ask(o.OrderRef, "dlcode"); code != 200 {
			t.Fatalf("dlcode challenge %d: %d", i+1, code)
		}
	}
	if code, _ := ask(o.OrderRef, "dlcode"); code != 429 {
		t.Fatalf("a fifth dlcode challenge for one order: %d", code)
	}
	// Per type: the code card still has its four.
	for i := range 4 {
		if code, _ := ask(o.OrderRef, "codecard"); code != 200 {
			t.Fatalf("codecard challenge %d: %d", i+1, code)
		}
	}
	if code, _ := ask(o.OrderRef, "codecard"); code != 429 {
		t.Fatalf("a fifth codecard challenge for one order: %d", code)
	}
	// 8 so far this hour; 12 more in new orders, then the 21st is refused.
	n := 8
	for n < 20 {
		e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
		e.call(e.rp, "POST", "/rp/v1/auth", pay, &o)
		for range 4 {
			if n < 20 {
				if code, _ := ask(o.OrderRef, "dlcode"); code != 200 {
					t.Fatalf("challenge %d of the hour: %d", n+1, code)
				}
				n++
			}
		}
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
	e.call(e.rp, "POST", "/rp/v1/auth", pay, &o)
	code, h := ask(o.OrderRef, "codecard")
	if code != 429 {
		t.Fatalf("the 21st challenge in an hour: %d", code)
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	// An hour later the user may be challenged again.
	e.d.Clock.Advance(time.Hour + time.Minute)
	e.call(e.rp, "POST", "/rp/v1/auth", pay, &o)
	if code, _ := ask(o.OrderRef, "codecard"); code != 200 {
		t.Fatalf("an hour later: %d", code)
	}
}

// 60 wrong OTPs at once: the user stops at one block, and so does the
// token: failures counted after the block, or while it is in force, do
// not count again.
func TestConcurrentWrongOTPsBlockOnce(t *testing.T) {
	e := start(t)
	e.createUser("fie", "hemmeligt1")
	e.importPSKC(testPSKC)
	e.assign("HW0001", "fie")
	o := e.startOrder("auth", map[string]string{"userId": "fie", "endUserIp": "192.0.2.1"})
	r := e.racers(60)
	res := r.submit(o.OrderRef, "otp", "000000")
	if res.accepted != 0 {
		t.Fatalf("a wrong code was accepted: %v", res.statuses)
	}
	refused, blocked := e.refusals()
	if refused != 5 || blocked != 2 { // user.blocked and otp.blocked, once each
		t.Fatalf("%d refusals and %d blocks recorded, want 5 and 2 (answers %v)", refused, blocked, res.statuses)
	}
	tok := e.token("HW0001")
	if !tok.Blocked || tok.Failures != 0 {
		t.Fatalf("token after 60 wrong codes: %+v, want blocked once", tok)
	}
	var u struct{ Blocked bool }
	e.call(e.off, "GET", "/admin/v1/users/fie", nil, &u)
	if !u.Blocked {
		t.Fatal("the user is not blocked")
	}
}

// A right value sent again after it was accepted, while the order waits
// for its second factor, is answered with the order's state and counts
// nothing; so is a right value for an entry a wrong answer spent.
func TestRepeatAfterAcceptance(t *testing.T) {
	e := start(t)
	e.createUser("gry", "hemmeligt1")
	card := e.issueCard("gry")
	o := e.startOrder("auth", map[string]string{"userId": "gry", "endUserIp": "192.0.2.1"})
	code := card.code(e.challenge(o.OrderRef).KeyNumber)
	if r := e.factor(o.OrderRef, "codecard", code); !r.Accepted || r.Status != "pending" {
		t.Fatalf("first: %+v", r)
	}
	for range 3 {
		if r := e.factor(o.OrderRef, "codecard", code); r.Accepted || r.Status != "pending" || r.HintCode != "userSign" {
			t.Fatalf("again: %+v", r)
		}
		if r := e.factor(o.OrderRef, "codecard", card.wrongCode(code)); r.Accepted || r.Status != "pending" {
			t.Fatalf("a wrong value for a passed factor: %+v", r)
		}
	}
	if failures, _ := e.user("gry"); failures != 0 {
		t.Fatalf("repeats counted %d failures", failures)
	}
	if r := e.factor(o.OrderRef, "password", "hemmeligt1"); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
	if r := e.factor(o.OrderRef, "password", "hemmeligt1"); r.Accepted || r.Status != "complete" {
		t.Fatalf("a factor for a complete order: %+v", r)
	}
	// An entry spent by a wrong answer: its right code now counts nothing.
	o = e.startOrder("auth", map[string]string{"userId": "gry", "endUserIp": "192.0.2.1"})
	key := e.challenge(o.OrderRef).KeyNumber
	e.factor(o.OrderRef, "codecard", card.wrongCode(key))
	if r := e.factor(o.OrderRef, "codecard", card.code(key)); r.Accepted {
		t.Fatalf("the right code for a spent entry: %+v", r)
	}
	if failures, _ := e.user("gry"); failures != 1 {
		t.Fatalf("%d failures, want the one wrong answer", failures)
	}
}
