package pivtest

// BER-TLV as PIV's APDUs carry it: one- or two-byte tags, definite
// lengths of up to three bytes.

type field struct {
	tag   int
	value []byte
}

func tlv(tag int, v []byte) []byte {
	var b []byte
	if tag > 0xff {
		b = append(b, byte(tag>>8))
	}
	b = append(b, byte(tag))
	switch n := len(v); {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xff:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, v...)
}

// parseTLV reads b as a sequence of TLVs that fills it exactly.
func parseTLV(b []byte) ([]field, bool) {
	var fs []field
	for len(b) > 0 {
		tag := int(b[0])
		b = b[1:]
		if tag&0x1f == 0x1f {
			if len(b) == 0 || b[0]&0x80 != 0 { // tags of more than two bytes are not PIV's
				return nil, false
			}
			tag = tag<<8 | int(b[0])
			b = b[1:]
		}
		if len(b) == 0 {
			return nil, false
		}
		n := int(b[0])
		b = b[1:]
		switch n {
		case 0x81, 0x82:
			k := n - 0x80
			if len(b) < k {
				return nil, false
			}
			n = 0
			for _, x := range b[:k] {
				n = n<<8 | int(x)
			}
			b = b[k:]
		default:
			if n > 0x7f {
				return nil, false
			}
		}
		if len(b) < n {
			return nil, false
		}
		fs = append(fs, field{tag, b[:n]})
		b = b[n:]
	}
	return fs, true
}
