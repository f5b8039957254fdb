package daemon_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
)

// racers are n clients, each with a TLS connection of its own opened
// before the race, so that the requests leave at one instant (a barrier)
// instead of queueing behind handshakes.
type racers struct {
	e       *env
	clients []*http.Client
}

func (e *env) racers(n int) *racers {
	e.t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(e.dev.TLSCA)
	if err != nil {
		e.t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(e.dev.RPCert, e.dev.RPKey)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &racers{e: e}
	for range n {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
			MaxIdleConnsPerHost: 1}
		e.t.Cleanup(tr.CloseIdleConnections)
		r.clients = append(r.clients, &http.Client{Transport: tr, Timeout: 60 * time.Second})
	}
	r.warm()
	return r
}

// warm opens (or keeps open) every client's connection.
func (r *racers) warm() {
	var wg sync.WaitGroup
	for _, c := range r.clients {
		wg.Go(func() {
			if resp, err := c.Get(r.e.addr + "/healthz"); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

type raceResult struct {
	accepted int
	statuses map[string]int // HTTP status and order status: "200 pending"
}

// submit sends the same factor from every client at once and tallies
// the answers.
func (r *racers) submit(ref, typ, value string) raceResult {
	r.e.t.Helper()
	body, _ := json.Marshal(map[string]string{"orderRef": ref, "type": typ, "value": value})
	res := raceResult{statuses: map[string]int{}}
	var mu sync.Mutex
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for _, c := range r.clients {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			req, _ := http.NewRequest("POST", r.e.addr+"/rp/v1/factor", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			var out struct {
				Accepted  bool
				Status    string
				ErrorCode string
			}
			key := "transport error"
			if resp, err := c.Do(req); err == nil {
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				key = fmt.Sprintf("%d %s%s", resp.StatusCode, out.Status, out.ErrorCode)
			}
			mu.Lock()
			defer mu.Unlock()
			res.statuses[key]++
			if out.Accepted {
				res.accepted++
			}
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return res
}

// refusals counts the audit records of refused factors and blocks.
func (e *env) refusals() (refused, blocked int) {
	e.t.Helper()
	for _, ev := range auditEvents(e.t, e) {
		switch ev {
		case audit.FactorRefused:
			refused++
		case audit.UserBlocked, audit.OTPBlocked:
			blocked++
		}
	}
	return refused, blocked
}

func (e *env) user(id string) (failures int, blocked bool) {
	e.t.Helper()
	var u struct {
		Failures int
		Blocked  bool
	}
	if code := e.call(e.off, "GET", "/admin/v1/users/"+id, nil, &u); code != 200 {
		e.t.Fatalf("user %s: %d", id, code)
	}
	return u.Failures, u.Blocked
}

func (e *env) token(serial string) tokenView {
	e.t.Helper()
	var tok tokenView
	if code := e.call(e.off, "GET", "/admin/v1/tokens/"+serial, nil, &tok); code != 200 {
		e.t.Fatalf("token %s: %d", serial, code)
	}
	return tok
}

func (e *env) order(ref string) *store.Order {
	e.t.Helper()
	var o *store.Order
	if err := e.d.Store().View(context.Background(), func(r store.Reader) (err error) { o, err = r.Order(ref); return err }); err != nil {
		e.t.Fatal(err)
	}
	return o
}

// Rounds and racers of each duplicate test.
const (
	raceRounds = 50
	raceN      = 100
)

// raceFactor runs rounds of: start an order, pass the password, then send
// the right value of the factor raceN times at once. Every round must give
// exactly one acceptance, complete the order, and count nothing against
// the user (or, through check, the factor's token).
func raceFactor(t *testing.T, e *env, user, typ string, payment bool, value func(round int, ref string) string, check func(round int)) {
	t.Helper()
	r := e.racers(raceN)
	for round := range raceRounds {
		// A user is given at most 20 challenges an hour: let the time
		// pass that a real user would take between logins.
		e.d.Clock.Advance(3*time.Minute + 10*time.Second)
		body := map[string]any{"userId": user, "endUserIp": "192.0.2.1"}
		if payment {
			body["payment"] = map[string]string{"amountMinor": fmt.Sprint(1000 + round), "currency": "DKK", "payee": "Netto Nørrebro"}
		}
		var o struct{ OrderRef string }
		if code := e.call(e.rp, "POST", "/rp/v1/auth", body, &o); code != 200 {
			t.Fatalf("round %d: start: %d", round, code)
		}
		if got := e.factor(o.OrderRef, "password", "hemmeligt1"); !got.Accepted {
			t.Fatalf("round %d: password: %+v", round, got)
		}
		v := value(round, o.OrderRef)
		res := r.submit(o.OrderRef, typ, v)
		if res.accepted != 1 {
			t.Fatalf("round %d: %d of %d submissions of the right %s accepted, want exactly 1 (answers: %v)", round, res.accepted, raceN, typ, res.statuses)
		}
		if res.statuses["200 complete"]+res.statuses["200 pending"] != raceN {
			t.Fatalf("round %d: answers %v; every duplicate must get the order's state", round, res.statuses)
		}
		if got := e.collect(o.OrderRef); got.Status != "complete" {
			t.Fatalf("round %d: the order is %+v after the race", round, got)
		}
		if failures, blocked := e.user(user); failures != 0 || blocked {
			t.Fatalf("round %d: the duplicates counted against the user: %d failures, blocked %v", round, failures, blocked)
		}
		if check != nil {
			check(round)
		}
	}
	if refused, blocked := e.refusals(); refused != 0 || blocked != 0 {
		t.Fatalf("%d factor.refused and %d block records after %d rounds of duplicates", refused, blocked, raceRounds)
	}
}

func TestDuplicatesCodeCard(t *testing.T) {
	e := start(t)
	e.createUser("rita", "hemmeligt1")
	card := e.issueCard("rita")
	raceFactor(t, e, "rita", "codecard", false, func(_ int, ref string) string {
		return card.code(e.challenge(ref).KeyNumber)
	}, nil)
}

func TestDuplicatesDLCode(t *testing.T) {
	e := start(t)
	e.createUser("sune", "hemmeligt1")
	raceFactor(t, e, "sune", "dlcode", true, func(_ int, ref string) string {
		if code := e.call(e.rp, "POST", "/rp/v1/challenge", map[string]string{"orderRef": ref, "type": "dlcode"}, nil); code != 200 {
			t.Fatalf("dlcode challenge: %d", code)
		}
		c, err := e.d.DLCodes.Code(e.order(ref))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}, nil)
}

// rfcSeed is RFC 4226's test seed.
var rfcSeed = []byte("12345678901234567890")

// hotp is RFC 4226 written out again here, independent of tokens/otp.
func hotp(key []byte, counter uint64, digits int) string {
	m := hmac.New(sha1.New, key)
	binary.Write(m, binary.BigEndian, counter)
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0xf
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

func (e *env) importPSKC(doc string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.addr+"/admin/v1/tokens", strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/pskc+xml")
	resp, err := e.off.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		e.t.Fatalf("import: %d", resp.StatusCode)
	}
}

func (e *env) assign(serial, user string) {
	e.t.Helper()
	if code := e.call(e.off, "POST", "/admin/v1/tokens/"+serial, map[string]string{"action": "assign", "userId": user}, nil); code != 200 {
		e.t.Fatalf("assign %s: %d", serial, code)
	}
}

func TestDuplicatesHOTP(t *testing.T) {
	e := start(t)
	e.createUser("tove", "hemmeligt1")
	e.importPSKC(testPSKC)
	e.assign("HW0001", "tove")
	raceFactor(t, e, "tove", "otp", false, func(round int, _ string) string { return hotp(rfcSeed, uint64(round), 6) }, func(round int) {
		if tok := e.token("HW0001"); tok.Failures != 0 || tok.Blocked || tok.Counter != int64(round)+1 {
			t.Fatalf("round %d: token %+v, want counter %d and no failures", round, tok, round+1)
		}
	})
}

const testTOTP = `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
 <KeyPackage>
  <DeviceInfo><Manufacturer>Test</Manufacturer><SerialNo>TT0001</SerialNo></DeviceInfo>
  <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
   <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
   <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><TimeInterval><PlainValue>30</PlainValue></TimeInterval></Data>
  </Key>
 </KeyPackage>
</KeyContainer>`

func TestDuplicatesTOTP(t *testing.T) {
	e := start(t)
	e.createUser("uffe", "hemmeligt1")
	e.importPSKC(testTOTP)
	e.assign("TT0001", "uffe")
	raceFactor(t, e, "uffe", "otp", false, func(round int, _ string) string {
		// A time step of its own for each round: the daemon's clock
		// moves on 30 seconds, and a code is used once per step.
		e.d.Clock.Advance(30 * time.Second)
		return hotp(rfcSeed, uint64(e.d.Clock.Now().Unix()/30), 6)
	}, func(round int) {
		if tok := e.token("TT0001"); tok.Failures != 0 || tok.Blocked {
			t.Fatalf("round %d: token %+v", round, tok)
		}
	})
}

// yubiOTP makes a Yubico OTP as a YubiKey does, written out here
// independently of tokens/yubico: AES-128 over the private ID, the use
// counter, a timestamp, the session counter, random bytes and an ISO 13239
// CRC-16, in modhex after the public ID.
func yubiOTP(t *testing.T, publicID string, key, privateID []byte, use uint16, session byte) string {
	t.Helper()
	var pt [16]byte
	copy(pt[:6], privateID)
	binary.LittleEndian.PutUint16(pt[6:], use)
	pt[8], pt[9], pt[10] = 1, 2, 3
	pt[11] = session
	rand.Read(pt[12:14])
	crc := uint16(0xffff)
	for _, b := range pt[:14] {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x8408
			} else {
				crc >>= 1
			}
		}
	}
	binary.LittleEndian.PutUint16(pt[14:], ^crc)
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var ct [16]byte
	blk.Encrypt(ct[:], pt[:])
	const modhex = "cbdefghijklnrtuv"
	var b strings.Builder
	b.WriteString(publicID)
	for _, c := range ct {
		b.WriteByte(modhex[c>>4])
		b.WriteByte(modhex[c&15])
	}
	return b.String()
}

func TestDuplicatesYubicoOTP(t *testing.T) {
	e := start(t)
	e.createUser("vera", "hemmeligt1")
	req, _ := http.NewRequest("POST", e.addr+"/admin/v1/tokens", strings.NewReader(testYubicoCSV))
	req.Header.Set("Content-Type", "text/csv")
	resp, err := e.off.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("import: %v %v", resp, err)
	}
	resp.Body.Close()
	e.assign("4711", "vera")
	key, _ := hex.DecodeString("ecde18dbe76fbd0c33330f1c354871db")
	pid, _ := hex.DecodeString("8792ebfe26cc")
	raceFactor(t, e, "vera", "otp", false, func(round int, _ string) string {
		return yubiOTP(t, "ccccccbchvth", key, pid, uint16(round+1), 0)
	}, func(round int) {
		if tok := e.token("4711"); tok.Failures != 0 || tok.Blocked || tok.Counter != int64(round+1)<<8 {
			t.Fatalf("round %d: token %+v", round, tok)
		}
	})
}
