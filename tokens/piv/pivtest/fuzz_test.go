package pivtest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzCardAPDU sends the card a run of arbitrary APDUs (each a 1-byte
// length and its bytes): every answer ends in a status word, and without
// the management key no run can make a key, and so no signature.
func FuzzCardAPDU(f *testing.F) {
	ca := NewCA(f)
	dev := ca.Device(f, 1, [3]byte{5, 7, 1}, 3)
	seq := func(apdus ...[]byte) []byte {
		var b []byte
		for _, a := range apdus {
			b = append(append(b, byte(len(a))), a...)
		}
		return b
	}
	sel := append([]byte{0, 0xa4, 4, 0, 5}, aidPIV...)
	f.Add(seq(sel, []byte{0, 0xfd, 0, 0}, []byte{0, 0xf8, 0, 0}))
	f.Add(seq(sel, []byte{0, 0x20, 0, 0x80, 8, '1', '2', '3', '4', '5', '6', 0xff, 0xff}, []byte{0, 0x87, 0x11, 0x9a, 4, 0x7c, 2, 0x82, 0}))
	f.Add(seq(sel, []byte{0, 0x87, 0x0a, 0x9b, 4, 0x7c, 2, 0x80, 0}, []byte{0, 0x47, 0, 0x9a, 11, 0xac, 9, 0x80, 1, 0x11, 0xaa, 1, 2, 0xab, 1, 1}))
	f.Add(seq(sel, []byte{0x10, 0xdb, 0x3f, 0xff, 2, 0x5c, 3}, []byte{0, 0xcb, 0x3f, 0xff, 5, 0x5c, 3, 0x5f, 0xff, 0x01}, []byte{0, 0xc0, 0, 0}))
	f.Fuzz(func(t *testing.T, run []byte) {
		c := NewCard(dev)
		for len(run) > 0 {
			n := int(run[0])
			run = run[1:]
			if n > len(run) {
				n = len(run)
			}
			resp := c.APDU(run[:n])
			run = run[n:]
			if len(resp) < 2 {
				t.Fatalf("an answer without a status word: %x", resp)
			}
			if sw := binary.BigEndian.Uint16(resp[len(resp)-2:]); sw>>8 != 0x90 && sw>>8 != 0x61 && len(resp) != 2 {
				t.Fatalf("an error %04x with data %x", sw, resp)
			}
		}
		if len(c.keys) != 0 || c.Signatures() != 0 || !bytes.Equal(c.mgmKey, DefaultManagementKey) {
			t.Fatalf("arbitrary APDUs made %d keys, %d signatures, management key %x", len(c.keys), c.Signatures(), c.mgmKey)
		}
	})
}

// FuzzParseTLV: what parses fills its input exactly, and writes back to it.
func FuzzParseTLV(f *testing.F) {
	f.Add([]byte{0x7c, 0x02, 0x80, 0x00})
	f.Add(tlv(0x7f49, tlv(0x86, bytes.Repeat([]byte{4}, 65))))
	f.Add([]byte{0x53, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, ok := parseTLV(b)
		if !ok {
			return
		}
		var back []byte
		for _, x := range fs {
			back = append(back, tlv(x.tag, x.value)...)
		}
		// Lengths may be written longer than needed (81 05): the
		// minimal form reparses to the same fields.
		again, ok := parseTLV(back)
		if !ok || len(again) != len(fs) {
			t.Fatalf("%x parsed to %v, which writes %x, which does not parse back", b, fs, back)
		}
		for i := range fs {
			if again[i].tag != fs[i].tag || !bytes.Equal(again[i].value, fs[i].value) {
				t.Fatalf("field %d: %v then %v", i, fs[i], again[i])
			}
		}
	})
}
