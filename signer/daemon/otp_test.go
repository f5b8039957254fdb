package daemon_test

import (
	"net/http"
	"strings"
	"testing"
)

// An HOTP token with RFC 4226's test seed (counters 0… give 755224,
// 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489).
const testPSKC = `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
 <KeyPackage>
  <DeviceInfo><Manufacturer>Test</Manufacturer><SerialNo>HW0001</SerialNo></DeviceInfo>
  <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
   <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
   <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><Counter><PlainValue>0</PlainValue></Counter></Data>
  </Key>
 </KeyPackage>
</KeyContainer>`

type tokenView struct {
	Serial   string `json:"serial"`
	UserID   string `json:"userId"`
	Counter  int64  `json:"counter"`
	Failures int    `json:"failures"`
	Blocked  bool   `json:"blocked"`
}

func TestOTPTokenCompletesOrder(t *testing.T) {
	e := start(t)
	e.createUser("gus", "hemmeligt1")
	req, _ := http.NewRequest("POST", e.addr+"/admin/v1/tokens", strings.NewReader(testPSKC))
	req.Header.Set("Content-Type", "application/pskc+xml")
	resp, err := e.off.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	// The same batch again is refused as a whole.
	req, _ = http.NewRequest("POST", e.addr+"/admin/v1/tokens", strings.NewReader(testPSKC))
	req.Header.Set("Content-Type", "application/pskc+xml")
	if resp, err := e.off.Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("a second import of one serial: %v %v", resp.StatusCode, err)
	}
	var tok tokenView
	if code := e.call(e.off, "POST", "/admin/v1/tokens/HW0001", map[string]string{"action": "assign", "userId": "gus"}, &tok); code != 200 || tok.UserID != "gus" {
		t.Fatalf("assign: %d %+v", code, tok)
	}

	o := e.startOrder("auth", map[string]string{"userId": "gus", "endUserIp": "192.0.2.1"})
	if r := e.factor(o.OrderRef, "otp", "755224"); !r.Accepted {
		t.Fatalf("counter 0: %+v", r)
	}
	if r := e.factor(o.OrderRef, "password", "hemmeligt1"); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
	o = e.startOrder("auth", map[string]string{"userId": "gus", "endUserIp": "192.0.2.1"})
	if r := e.factor(o.OrderRef, "otp", "755224"); r.Accepted {
		t.Fatal("a used code was accepted again")
	}
	// Counter 3, within the look-ahead of 10.
	if r := e.factor(o.OrderRef, "otp", "969429"); !r.Accepted {
		t.Fatalf("counter 3: %+v", r)
	}
	var list struct{ Tokens []tokenView }
	e.call(e.off, "GET", "/admin/v1/tokens?userId=gus", nil, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].Counter != 4 || list.Tokens[0].Failures != 0 {
		t.Fatalf("after counters 0 and 3 (a success clears the replay's failure): %+v", list.Tokens)
	}
	e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
	o = e.startOrder("auth", map[string]string{"userId": "gus", "endUserIp": "192.0.2.1"})
	if r := e.factor(o.OrderRef, "otp", "000000"); r.Accepted {
		t.Fatal("a wrong code was accepted")
	}
	e.call(e.off, "GET", "/admin/v1/tokens?userId=gus", nil, &list)
	if list.Tokens[0].Failures != 1 {
		t.Fatalf("after a wrong code: %+v", list.Tokens)
	}
	// Resynchronise with counters 7 and 8: the next is 9.
	if code := e.call(e.off, "POST", "/admin/v1/tokens/HW0001", map[string]string{"action": "resync", "otp1": "162583", "otp2": "399871"}, &tok); code != 200 || tok.Counter != 9 {
		t.Fatalf("resync: %d %+v", code, tok)
	}
	var errResp apiError
	if code := e.call(e.off, "POST", "/admin/v1/tokens/HW0001", map[string]string{"action": "resync", "otp1": "755224", "otp2": "359152"}, &errResp); code != 400 {
		t.Fatalf("a resync with codes that are not consecutive: %d", code)
	}
	if code := e.call(e.off, "POST", "/admin/v1/tokens/HW0001", map[string]string{"action": "delete"}, &tok); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	e.call(e.off, "GET", "/admin/v1/tokens", nil, &list)
	if len(list.Tokens) != 0 {
		t.Fatalf("after delete: %+v", list.Tokens)
	}
}

// Two YubiKeys as ykman writes them; their OTPs below come from
// testvectors/yubico-otp.json (made by python-yubiotp).
const testYubicoCSV = `4711,ccccccbchvth,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db,,2026-11-22T10:00:00,
4712,vvvvvvcucrlc,0a1b2c3d4e5f,000102030405060708090a0b0c0d0e0f,,2026-11-22T10:01:00,
`

func TestYubicoOTPCompletesOrder(t *testing.T) {
	e := start(t)
	e.createUser("hal", "hemmeligt1")
	importCSV := func(doc string) int {
		req, _ := http.NewRequest("POST", e.addr+"/admin/v1/tokens", strings.NewReader(doc))
		req.Header.Set("Content-Type", "text/csv")
		resp, err := e.off.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A file with one bad line imports nothing.
	if code := importCSV(testYubicoCSV + "4713,cccccccccccb,8792,ecde18dbe76fbd0c33330f1c354871db,,,\n"); code != 400 {
		t.Fatalf("a bad line: %d", code)
	}
	var list struct{ Tokens []tokenView }
	if e.call(e.off, "GET", "/admin/v1/tokens", nil, &list); len(list.Tokens) != 0 {
		t.Fatalf("a refused file left %+v", list.Tokens)
	}
	if code := importCSV(testYubicoCSV); code != 201 {
		t.Fatalf("import: %d", code)
	}
	var tok tokenView
	if code := e.call(e.off, "POST", "/admin/v1/tokens/4711", map[string]string{"action": "assign", "userId": "hal"}, &tok); code != 200 {
		t.Fatalf("assign: %d", code)
	}
	try := func(otp string) bool {
		o := e.startOrder("auth", map[string]string{"userId": "hal", "endUserIp": "192.0.2.1"})
		defer e.call(e.rp, "POST", "/rp/v1/cancel", map[string]string{"orderRef": o.OrderRef}, nil)
		return e.factor(o.OrderRef, "otp", otp).Accepted
	}
	const (
		use1s0  = "ccccccbchvthfvknvkckigcvrvbvugiblvhelgdthvhe"
		use1s1  = "ccccccbchvthunbbegnlrluurbbifgdtteknejihccrd"
		use19s0 = "ccccccbchvthddkvhrlcuutvgkntdklhjrnhhtnkkkrl"
		other   = "vvvvvvcucrlcvgchhhjgvkelviviuctbitnbtivvbejk" // 4712's, not hal's
	)
	o := e.startOrder("auth", map[string]string{"userId": "hal", "endUserIp": "192.0.2.1"})
	if r := e.factor(o.OrderRef, "otp", use1s1); !r.Accepted {
		t.Fatalf("use 1, session 1: %+v", r)
	}
	if r := e.factor(o.OrderRef, "password", "hemmeligt1"); r.Status != "complete" {
		t.Fatalf("%+v", r)
	}
	for name, otp := range map[string]string{"a replay": use1s1, "an older OTP": use1s0, "another token's OTP": other, "six digits": "755224"} {
		if try(otp) {
			t.Errorf("%s was accepted", name)
		}
	}
	if !try(use19s0) {
		t.Fatal("use 19 after use 1 was refused")
	}
	e.call(e.off, "GET", "/admin/v1/tokens/4711", nil, &tok)
	if tok.Counter != 19<<8 || tok.Failures != 0 {
		t.Fatalf("after use 19: %+v", tok)
	}
	// Two files may not claim one YubiKey.
	if code := importCSV("4799,ccccccbchvth,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db,,,\n"); code != 400 {
		t.Fatalf("a second token with one public ID: %d", code)
	}
}
