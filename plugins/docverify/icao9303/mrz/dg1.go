package mrz

import "time"

// ParseDG1 reads EF.DG1: tag 0x61 holding tag 0x5F1F with the MRZ's
// characters, concatenated. Lengths are BER-TLV in one to three bytes
// (up to 0x82 LL LL); nothing may follow either element.
func ParseDG1(b []byte) (*MRZ, error) { return ParseDG1At(b, time.Now()) }

// ParseDG1At is ParseDG1 with the reference time for the century rules.
func ParseDG1At(b []byte, now time.Time) (*MRZ, error) {
	inner, rest, err := readTLV(b, []byte{0x61})
	if err != nil {
		return nil, malformed("DG1: %v", err)
	}
	if len(rest) != 0 {
		return nil, malformed("DG1: %d bytes after the 0x61 element", len(rest))
	}
	text, rest, err := readTLV(inner, []byte{0x5F, 0x1F})
	if err != nil {
		return nil, malformed("DG1: %v", err)
	}
	if len(rest) != 0 {
		return nil, malformed("DG1: %d bytes after the MRZ (0x5F1F) inside 0x61", len(rest))
	}
	return ParseAt(string(text), now)
}

// tlvError is a BER-TLV problem; it never holds content.
type tlvError string

func (e tlvError) Error() string { return string(e) }

// readTLV reads one element with the given tag: its value and what follows.
func readTLV(b, tag []byte) (value, rest []byte, err error) {
	if len(b) < len(tag) {
		return nil, nil, tlvError("truncated before the tag")
	}
	for i, t := range tag {
		if b[i] != t {
			return nil, nil, tlvError("the tag is not the one expected")
		}
	}
	b = b[len(tag):]
	if len(b) == 0 {
		return nil, nil, tlvError("truncated before the length")
	}
	var n, hdr int
	switch l := b[0]; {
	case l < 0x80:
		n, hdr = int(l), 1
	case l == 0x81:
		if len(b) < 2 {
			return nil, nil, tlvError("truncated length")
		}
		n, hdr = int(b[1]), 2
	case l == 0x82:
		if len(b) < 3 {
			return nil, nil, tlvError("truncated length")
		}
		n, hdr = int(b[1])<<8|int(b[2]), 3
	case l == 0x80:
		return nil, nil, tlvError("an indefinite length")
	default:
		return nil, nil, tlvError("a length of more than three bytes")
	}
	b = b[hdr:]
	if len(b) < n {
		return nil, nil, tlvError("the value is shorter than its length")
	}
	return b[:n], b[n:], nil
}
