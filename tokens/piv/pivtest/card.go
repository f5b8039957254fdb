package pivtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"sync"
)

// The defaults a new YubiKey comes with.
var (
	DefaultPIN           = []byte("123456")
	DefaultPUK           = []byte("12345678")
	DefaultManagementKey = []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
)

// Status words (ISO/IEC 7816-4, NIST SP 800-73-4).
const (
	swOK               = 0x9000
	swMore             = 0x6100
	swWrongLength      = 0x6700
	swSecurity         = 0x6982
	swBlocked          = 0x6983
	swIncorrectData    = 0x6a80
	swFunction         = 0x6a81
	swNotFound         = 0x6a82
	swIncorrectP1P2    = 0x6b00
	swINS              = 0x6d00
	swCLA              = 0x6e00
	swWrongPINBase     = 0x63c0
	swConditions       = 0x6985
	alg3DES, algAES192 = 0x03, 0x0a
	algP256, algP384   = 0x11, 0x14
	slotManagement     = 0x9b
	maxChained         = 1 << 16 // the most data a chain of commands may carry
)

var aidPIV = []byte{0xa0, 0x00, 0x00, 0x03, 0x08}

// Card is a virtual YubiKey 5's PIV application: it answers the APDUs
// piv-go and yubico-piv-tool send, from a card's defaults (PIN, PUK, an
// AES-192 management key, empty slots), with keys generated in it and
// attested by its Device. It is test infrastructure: its keys are in
// memory, and it is as strict as a card only where Segl's tests need it.
type Card struct {
	Device *Device

	mu        sync.Mutex
	pin, puk  []byte // padded to 8 with 0xff
	pinTries  int
	pukTries  int
	mgmKey    []byte
	mgmAlg    byte
	mgmAuthed bool
	witness   []byte
	verified  bool // the PIN, this session
	justNow   bool // the PIN was verified by the command before this one
	keys      map[byte]*slotKey
	objects   map[uint32][]byte
	selected  bool
	chain     []byte // data of a command chain so far
	rest      []byte // a response's data not yet fetched with GET RESPONSE
	signed    int
}

// Signatures is how many signatures the card has made.
func (c *Card) Signatures() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signed
}

type slotKey struct {
	key        *ecdsa.PrivateKey
	alg        byte
	pin, touch byte
}

// NewCard is a card with a device's attestation identity and factory
// defaults.
func NewCard(d *Device) *Card {
	c := &Card{Device: d, pin: pad(DefaultPIN), puk: pad(DefaultPUK), pinTries: 3, pukTries: 3,
		mgmKey: DefaultManagementKey, mgmAlg: algAES192, keys: map[byte]*slotKey{}, objects: map[uint32][]byte{}}
	// The attestation certificate (slot f9) as the factory stores it.
	c.objects[0x5fff01] = append(tlv(0x70, d.F9.Raw), tlv(0x71, []byte{0})...)
	return c
}

// Reset is a power cycle: what a session proved is forgotten.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified, c.justNow, c.mgmAuthed, c.witness, c.selected, c.chain, c.rest = false, false, false, nil, false, nil, nil
}

// ManagementKey is the card's management key now (tests check that
// enrolment changed it from the default).
func (c *Card) ManagementKey() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.mgmKey)
}

// Object is the content of a data object, or nil.
func (c *Card) Object(id uint32) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.objects[id])
}

// APDU answers one command APDU with its response and status word.
func (c *Card) APDU(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, sw := c.handle(cmd)
	if sw == swOK && len(data) > 256 {
		c.rest = data[256:]
		return withSW(data[:256], more(len(c.rest)))
	}
	return withSW(data, sw)
}

func more(n int) int {
	if n > 255 {
		return swMore
	}
	return swMore | n
}

func withSW(data []byte, sw int) []byte {
	return binary.BigEndian.AppendUint16(bytes.Clone(data), uint16(sw))
}

func (c *Card) handle(cmd []byte) ([]byte, int) {
	if len(cmd) < 4 {
		return nil, swWrongLength
	}
	cla, ins, p1, p2 := cmd[0], cmd[1], cmd[2], cmd[3]
	data, ok := body(cmd)
	if !ok {
		return nil, swWrongLength
	}
	justNow := c.justNow
	c.justNow = false
	if ins == 0xc0 { // GET RESPONSE
		if c.rest == nil {
			return nil, swConditions
		}
		r := c.rest
		c.rest = nil
		if len(r) > 256 {
			c.rest = r[256:]
			return r[:256], more(len(c.rest))
		}
		return r, swOK
	}
	c.rest = nil
	switch cla {
	case 0x00:
	case 0x10: // command chaining: the rest follows
		if len(c.chain)+len(data) > maxChained {
			c.chain = nil
			return nil, swWrongLength
		}
		c.chain = append(c.chain, data...)
		return nil, swOK
	default:
		return nil, swCLA
	}
	if c.chain != nil {
		data = append(c.chain, data...)
		c.chain = nil
	}
	if ins == 0xa4 {
		return c.selectApp(p1, data)
	}
	if !c.selected {
		return nil, swConditions
	}
	switch ins {
	case 0xfd: // GET VERSION
		v := c.Device.Firmware
		return v[:], swOK
	case 0xf8: // GET SERIAL
		return binary.BigEndian.AppendUint32(nil, c.Device.Serial), swOK
	case 0x20:
		return c.verify(p2, data)
	case 0x24:
		return c.changeReference(p2, data)
	case 0x2c:
		return c.resetRetry(p2, data)
	case 0x87:
		return c.authenticate(p1, p2, data, justNow)
	case 0x47:
		return c.generate(p2, data)
	case 0xf9:
		return c.attest(p1)
	case 0xcb:
		return c.getData(p1, p2, data)
	case 0xdb:
		return c.putData(p1, p2, data)
	case 0xff:
		return c.setManagementKey(p1, p2, data)
	case 0xf7:
		return c.metadata(p2)
	}
	return nil, swINS
}

// body is a short APDU's data: CLA INS P1 P2, then nothing, Le, or Lc and
// Lc bytes and perhaps Le.
func body(cmd []byte) ([]byte, bool) {
	switch {
	case len(cmd) <= 5:
		return nil, true
	case int(cmd[4]) == len(cmd)-5 || int(cmd[4]) == len(cmd)-6:
		return cmd[5 : 5+int(cmd[4])], cmd[4] != 0
	}
	return nil, false
}

func (c *Card) selectApp(p1 byte, aid []byte) ([]byte, int) {
	if p1 != 0x04 || len(aid) < len(aidPIV) || !bytes.Equal(aid[:len(aidPIV)], aidPIV) {
		c.selected = false
		return nil, swNotFound
	}
	// Selecting the application resets what was proven in it (ISO/IEC
	// 7816-4 security status): each connection starts without the PIN.
	c.selected, c.verified, c.mgmAuthed, c.witness = true, false, false, nil
	// The application property template: the PIV AID and its authority.
	return tlv(0x61, append(tlv(0x4f, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00}), tlv(0x79, tlv(0x4f, aidPIV))...)), swOK
}

func pad(pin []byte) []byte {
	p := bytes.Repeat([]byte{0xff}, 8)
	copy(p, pin)
	return p
}

func (c *Card) verify(p2 byte, data []byte) ([]byte, int) {
	if p2 != 0x80 {
		return nil, swIncorrectP1P2
	}
	if len(data) == 0 { // the PIN's state
		if c.verified {
			return nil, swOK
		}
		return nil, swWrongPINBase | c.pinTries
	}
	if c.pinTries == 0 {
		return nil, swBlocked
	}
	if len(data) != 8 {
		return nil, swWrongLength
	}
	if !bytes.Equal(data, c.pin) {
		c.pinTries--
		c.verified = false
		if c.pinTries == 0 {
			return nil, swBlocked
		}
		return nil, swWrongPINBase | c.pinTries
	}
	c.pinTries, c.verified, c.justNow = 3, true, true
	return nil, swOK
}

func (c *Card) changeReference(p2 byte, data []byte) ([]byte, int) {
	ref, tries := &c.pin, &c.pinTries
	switch p2 {
	case 0x80:
	case 0x81:
		ref, tries = &c.puk, &c.pukTries
	default:
		return nil, swIncorrectP1P2
	}
	if len(data) != 16 {
		return nil, swWrongLength
	}
	if *tries == 0 {
		return nil, swBlocked
	}
	if !bytes.Equal(data[:8], *ref) {
		*tries--
		return nil, swWrongPINBase | *tries
	}
	*ref, *tries = bytes.Clone(data[8:]), 3
	return nil, swOK
}

func (c *Card) resetRetry(p2 byte, data []byte) ([]byte, int) {
	if p2 != 0x80 {
		return nil, swIncorrectP1P2
	}
	if len(data) != 16 {
		return nil, swWrongLength
	}
	if c.pukTries == 0 {
		return nil, swBlocked
	}
	if !bytes.Equal(data[:8], c.puk) {
		c.pukTries--
		return nil, swWrongPINBase | c.pukTries
	}
	c.pukTries, c.pin, c.pinTries = 3, bytes.Clone(data[8:]), 3
	return nil, swOK
}

func (c *Card) block() cipher.Block {
	if c.mgmAlg == alg3DES {
		b, _ := des.NewTripleDESCipher(c.mgmKey)
		return b
	}
	b, _ := aes.NewCipher(c.mgmKey)
	return b
}

// authenticate is GENERAL AUTHENTICATE: the management key's mutual
// challenge and response, or a signature by a slot's key.
func (c *Card) authenticate(alg, slot byte, data []byte, justNow bool) ([]byte, int) {
	tmpl, ok := parseTLV(data)
	if !ok || len(tmpl) != 1 || tmpl[0].tag != 0x7c {
		return nil, swIncorrectData
	}
	fields, ok := parseTLV(tmpl[0].value)
	if !ok {
		return nil, swIncorrectData
	}
	f := map[int][]byte{}
	for _, x := range fields {
		if _, dup := f[x.tag]; dup {
			return nil, swIncorrectData
		}
		f[x.tag] = x.value
	}
	if slot == slotManagement {
		return c.mutualAuth(alg, f)
	}
	k := c.keys[slot]
	if k == nil {
		return nil, swNotFound
	}
	if alg != k.alg {
		return nil, swIncorrectP1P2
	}
	digest, ok := f[0x81]
	if _, wantsResponse := f[0x82]; !ok || !wantsResponse {
		return nil, swIncorrectData
	}
	switch {
	case k.pin == PINOnce && !c.verified, k.pin == PINAlways && !justNow:
		return nil, swSecurity
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest)
	if err != nil {
		return nil, swIncorrectData
	}
	c.signed++
	return tlv(0x7c, tlv(0x82, sig)), swOK
}

func (c *Card) mutualAuth(alg byte, f map[int][]byte) ([]byte, int) {
	if alg != c.mgmAlg {
		return nil, swIncorrectP1P2
	}
	b := c.block()
	n := b.BlockSize()
	if w, ok := f[0x80]; ok && len(w) == 0 && len(f) == 1 { // asks for a witness
		c.witness = make([]byte, n)
		rand.Read(c.witness)
		enc := make([]byte, n)
		b.Encrypt(enc, c.witness)
		return tlv(0x7c, tlv(0x80, enc)), swOK
	}
	w, challenge := f[0x80], f[0x81]
	expected := c.witness
	c.witness, c.mgmAuthed = nil, false
	if expected == nil || len(w) != n || len(challenge) != n {
		return nil, swIncorrectData
	}
	if !bytes.Equal(w, expected) {
		return nil, swSecurity
	}
	c.mgmAuthed = true
	resp := make([]byte, n)
	b.Encrypt(resp, challenge)
	return tlv(0x7c, tlv(0x82, resp)), swOK
}

func (c *Card) generate(slot byte, data []byte) ([]byte, int) {
	if !c.mgmAuthed {
		return nil, swSecurity
	}
	switch slot {
	case 0x9a, 0x9c, 0x9d, 0x9e:
	default:
		return nil, swIncorrectP1P2
	}
	tmpl, ok := parseTLV(data)
	if !ok || len(tmpl) != 1 || tmpl[0].tag != 0xac {
		return nil, swIncorrectData
	}
	fields, ok := parseTLV(tmpl[0].value)
	if !ok {
		return nil, swIncorrectData
	}
	k := &slotKey{pin: PINOnce, touch: TouchNever}
	for _, f := range fields {
		if len(f.value) != 1 {
			return nil, swIncorrectData
		}
		switch f.tag {
		case 0x80:
			k.alg = f.value[0]
		case 0xaa:
			k.pin = f.value[0]
		case 0xab:
			k.touch = f.value[0]
		default:
			return nil, swIncorrectData
		}
	}
	var curve elliptic.Curve
	switch k.alg {
	case algP256:
		curve = elliptic.P256()
	case algP384:
		curve = elliptic.P384()
	default:
		return nil, swFunction // RSA and the 25519 keys are not simulated
	}
	if k.pin < PINNever || k.pin > PINAlways || k.touch < TouchNever || k.touch > TouchCached {
		return nil, swIncorrectData
	}
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, swIncorrectData
	}
	k.key = key
	c.keys[slot] = k
	return tlv(0x7f49, point(k)), swOK
}

func point(k *slotKey) []byte {
	p, _ := k.key.PublicKey.Bytes()
	return tlv(0x86, p)
}

func (c *Card) attest(slot byte) ([]byte, int) {
	k := c.keys[slot]
	if k == nil {
		return nil, swIncorrectData // a YubiKey's answer for an empty slot
	}
	der, err := c.Device.Attest(&k.key.PublicKey, Slot{Key: slot, PIN: k.pin, Touch: k.touch})
	if err != nil {
		return nil, swIncorrectData
	}
	return der, swOK
}

// objectID reads GET and PUT DATA's tag list: 5C 03 and the object's tag.
func objectID(fields []field) (uint32, bool) {
	if len(fields) == 0 || fields[0].tag != 0x5c || len(fields[0].value) != 3 {
		return 0, false
	}
	v := fields[0].value
	return uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2]), true
}

func (c *Card) getData(p1, p2 byte, data []byte) ([]byte, int) {
	if p1 != 0x3f || p2 != 0xff {
		return nil, swIncorrectP1P2
	}
	fields, ok := parseTLV(data)
	id, ok2 := objectID(fields)
	if !ok || !ok2 || len(fields) != 1 {
		return nil, swIncorrectData
	}
	if id == 0x5fc109 && !c.verified { // the PIN-protected data
		return nil, swSecurity
	}
	obj, found := c.objects[id]
	if !found {
		return nil, swNotFound
	}
	return tlv(0x53, obj), swOK
}

func (c *Card) putData(p1, p2 byte, data []byte) ([]byte, int) {
	if p1 != 0x3f || p2 != 0xff {
		return nil, swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return nil, swSecurity
	}
	fields, ok := parseTLV(data)
	id, ok2 := objectID(fields)
	if !ok || !ok2 || len(fields) != 2 || fields[1].tag != 0x53 {
		return nil, swIncorrectData
	}
	if len(fields[1].value) == 0 {
		delete(c.objects, id)
	} else {
		c.objects[id] = bytes.Clone(fields[1].value)
	}
	return nil, swOK
}

func (c *Card) setManagementKey(p1, p2 byte, data []byte) ([]byte, int) {
	if p1 != 0xff || (p2 != 0xff && p2 != 0xfe) {
		return nil, swIncorrectP1P2
	}
	if !c.mgmAuthed {
		return nil, swSecurity
	}
	if len(data) < 3 || data[1] != slotManagement || int(data[2]) != len(data)-3 {
		return nil, swIncorrectData
	}
	alg, key := data[0], data[3:]
	want := map[byte]int{alg3DES: 24, 0x08: 16, algAES192: 24, 0x0c: 32}[alg]
	if want == 0 || len(key) != want {
		return nil, swIncorrectData
	}
	c.mgmAlg, c.mgmKey = alg, bytes.Clone(key)
	return nil, swOK
}

// metadata is YubiKey's GET METADATA for the management key, the PIN and
// PUK, and a slot with a key.
func (c *Card) metadata(slot byte) ([]byte, int) {
	isDefault := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	switch slot {
	case slotManagement:
		return bytes.Join([][]byte{tlv(1, []byte{c.mgmAlg}), tlv(2, []byte{PINNever, TouchNever}),
			tlv(5, isDefault(bytes.Equal(c.mgmKey, DefaultManagementKey)))}, nil), swOK
	case 0x80, 0x81:
		ref, tries, def := c.pin, c.pinTries, DefaultPIN
		if slot == 0x81 {
			ref, tries, def = c.puk, c.pukTries, DefaultPUK
		}
		return bytes.Join([][]byte{tlv(1, []byte{0xff}), tlv(5, isDefault(bytes.Equal(ref, pad(def)))),
			tlv(6, []byte{3, byte(tries)})}, nil), swOK
	}
	k := c.keys[slot]
	if k == nil {
		return nil, swNotFound
	}
	return bytes.Join([][]byte{tlv(1, []byte{k.alg}), tlv(2, []byte{k.pin, k.touch}), tlv(3, []byte{1}), tlv(4, point(k))}, nil), swOK
}
