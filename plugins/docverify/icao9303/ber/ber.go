// Package ber turns the BER that some passports send into DER that a DER
// parser (encoding/asn1, cryptobyte) accepts, and strips EF.SOD's
// application wrapper.
//
// New Zealand's EF.SOD, for one, is a CMS SignedData with indefinite
// lengths (30 80 … 00 00); other encoders use non-minimal length octets or
// send an OCTET STRING in constructed form, as a sequence of segments.
// Normalize rewrites exactly those encoding choices and nothing else.
package ber

import (
	"fmt"
	"math"
)

// Limits that Normalize and UnwrapSOD enforce. An ICAO master list, the
// largest input they see, is about 1 MB; an EF.SOD is a few KB.
const (
	// MaxDepth is the deepest nesting of elements accepted; the outermost
	// element is at depth 1.
	MaxDepth = 64
	// MaxSize is the largest input accepted, in bytes.
	MaxSize = 16 << 20
)

// SyntaxError is what Normalize and UnwrapSOD return for input they refuse:
// Offset is where in the input (in bytes from its start) the offending
// element's identifier octets, or the offending octet, is.
type SyntaxError struct {
	Offset int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("ber: at offset %d: %s", e.Offset, e.Reason)
}

func errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Normalize returns the DER form of the single BER element b, with these
// changes and no others:
//
//   - indefinite lengths become definite, and their end-of-contents octets
//     go;
//   - every length is written in its shortest form;
//   - a constructed BIT STRING, OCTET STRING, or character or time string of
//     the UNIVERSAL class becomes one primitive element holding its segments'
//     contents concatenated (the contents a message digest is computed over
//     do not change).
//
// It does not reorder the members of a SET or SET OF, though DER sorts them:
// signatures are over the encodings as the signer made them (a certificate's
// TBSCertificate, CMS signedAttrs), and sorting would break them where the
// signer did not sort. It does not look inside primitive contents
// (BOOLEAN, INTEGER, BIT STRING padding bits stay as sent), and it cannot
// merge a constructed string under an IMPLICIT context-specific or
// application tag, as it has no schema to tell it from an EXPLICIT tag. An
// element that is already DER comes back byte for byte (in a new slice), so
// the DER parts of a BER message (its certificates, say) keep their
// signatures.
//
// Normalize is for the CMS of EF.SOD and master lists, and for DG14 and
// DG15, which are DER. It is not for EF.COM, DG11 or DG12: ICAO 9303 gives
// their fields tags such as 5F01 and 5F0E, tag numbers below 31 in the
// high-tag-number form, which X.690 does not allow and Normalize refuses;
// read those as ISO/IEC 7816-4 BER-TLV. And a data group's hash is over
// the file as read: never hash a normalised data group.
//
// It refuses, with a *SyntaxError naming the offset: truncated input,
// trailing bytes after the element, input over MaxSize, nesting deeper than
// MaxDepth, lengths that overflow their enclosing element or MaxSize, the
// reserved length octet 0xFF, an indefinite length on a primitive element,
// a tag number in non-minimal form (high-tag-number form for a number below
// 31, or a leading 0x80 octet) or above 2^31−1, end-of-contents octets where
// an element is expected, a constructed BOOLEAN, INTEGER, NULL, OBJECT
// IDENTIFIER, REAL, ENUMERATED or RELATIVE-OID, a primitive SEQUENCE or SET,
// and segments of a constructed string that are not of the kind X.690 8.7
// and 8.23 require (BIT STRING segments for a BIT STRING, OCTET STRING
// segments otherwise; only the last BIT STRING segment may have unused bits).
func Normalize(b []byte) ([]byte, error) {
	if len(b) > MaxSize {
		return nil, errAt(0, "input is %d bytes, more than the limit of %d", len(b), MaxSize)
	}
	if len(b) == 0 {
		return nil, errAt(0, "empty input")
	}
	measure := walker{in: b}
	n, err := measure.element(1, len(b))
	if err != nil {
		return nil, err
	}
	if measure.pos != len(b) {
		return nil, errAt(measure.pos, "%d bytes of trailing data after the element", len(b)-measure.pos)
	}
	write := walker{in: b, emit: true, lens: measure.lens, out: make([]byte, 0, n)}
	if _, err := write.element(1, len(b)); err != nil {
		return nil, fmt.Errorf("ber: internal error: second pass failed: %w", err)
	}
	if len(write.out) != n {
		return nil, fmt.Errorf("ber: internal error: wrote %d bytes, measured %d", len(write.out), n)
	}
	return write.out, nil
}

// UnwrapSOD returns the CMS ContentInfo inside EF.SOD, which ICAO 9303
// part 10 wraps in an [APPLICATION 23] element (the 0x77 tag). The
// wrapper's length may be in any BER form, indefinite included; it must
// hold exactly one element, which UnwrapSOD checks is well-formed BER, and
// nothing may follow it. The result is a slice of b, as sent: it may
// still need Normalize.
func UnwrapSOD(b []byte) ([]byte, error) {
	if len(b) > MaxSize {
		return nil, errAt(0, "input is %d bytes, more than the limit of %d", len(b), MaxSize)
	}
	if len(b) == 0 {
		return nil, errAt(0, "empty input")
	}
	w := walker{in: b}
	h, err := w.header(len(b))
	if err != nil {
		return nil, err
	}
	if h.class != classApplication || h.tag != 23 || !h.constructed {
		return nil, errAt(0, "EF.SOD starts with %s, want the constructed [APPLICATION 23] (0x77) wrapper", h.describe())
	}
	start := w.pos
	if !h.indefinite {
		end := w.pos + h.length
		if end != len(b) {
			return nil, errAt(end, "%d bytes of trailing data after the EF.SOD wrapper", len(b)-end)
		}
		if start == end {
			return nil, errAt(start, "the EF.SOD wrapper is empty")
		}
		if _, err := w.element(2, end); err != nil {
			return nil, err
		}
		if w.pos != end {
			return nil, errAt(w.pos, "the EF.SOD wrapper holds more than one element")
		}
		return b[start:end], nil
	}
	if eoc, err := w.eoc(len(b), h.off); err != nil {
		return nil, err
	} else if eoc {
		return nil, errAt(start, "the EF.SOD wrapper is empty")
	}
	if _, err := w.element(2, len(b)); err != nil {
		return nil, err
	}
	end := w.pos
	if eoc, err := w.eoc(len(b), h.off); err != nil {
		return nil, err
	} else if !eoc {
		return nil, errAt(w.pos, "the EF.SOD wrapper holds more than one element")
	}
	if w.pos != len(b) {
		return nil, errAt(w.pos, "%d bytes of trailing data after the EF.SOD wrapper", len(b)-w.pos)
	}
	return b[start:end], nil
}

const (
	classUniversal   = 0
	classApplication = 1
	classContext     = 2
	classPrivate     = 3
)

// Universal tag numbers Normalize treats specially.
const (
	tagEOC         = 0
	tagBoolean     = 1
	tagInteger     = 2
	tagBitString   = 3
	tagOctetString = 4
	tagNull        = 5
	tagOID         = 6
	tagReal        = 9
	tagEnumerated  = 10
	tagRelativeOID = 13
	tagSequence    = 16
	tagSet         = 17
)

var universalNames = map[uint32]string{
	0: "end-of-contents", 1: "BOOLEAN", 2: "INTEGER", 3: "BIT STRING", 4: "OCTET STRING",
	5: "NULL", 6: "OBJECT IDENTIFIER", 7: "ObjectDescriptor", 9: "REAL", 10: "ENUMERATED",
	12: "UTF8String", 13: "RELATIVE-OID", 16: "SEQUENCE", 17: "SET", 18: "NumericString",
	19: "PrintableString", 20: "TeletexString", 21: "VideotexString", 22: "IA5String",
	23: "UTCTime", 24: "GeneralizedTime", 25: "GraphicString", 26: "VisibleString",
	27: "GeneralString", 28: "UniversalString", 30: "BMPString",
}

// isString reports whether a UNIVERSAL tag number is one whose value BER
// may send in constructed form as segments (X.690 8.7, 8.23; the time types
// are VisibleStrings).
func isString(tag uint32) bool {
	switch tag {
	case tagBitString, tagOctetString, 7, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30:
		return true
	}
	return false
}

func primitiveOnly(tag uint32) bool {
	switch tag {
	case tagBoolean, tagInteger, tagNull, tagOID, tagReal, tagEnumerated, tagRelativeOID:
		return true
	}
	return false
}

type header struct {
	off         int // where the identifier octets start
	idEnd       int // where the length octets start
	class       int
	constructed bool
	tag         uint32
	indefinite  bool
	length      int // the contents' length, when definite
}

func (h header) describe() string {
	form := "primitive"
	if h.constructed {
		form = "constructed"
	}
	switch h.class {
	case classUniversal:
		if name, ok := universalNames[h.tag]; ok {
			return fmt.Sprintf("%s %s", form, name)
		}
		return fmt.Sprintf("%s [UNIVERSAL %d]", form, h.tag)
	case classApplication:
		return fmt.Sprintf("%s [APPLICATION %d]", form, h.tag)
	case classContext:
		return fmt.Sprintf("%s [%d]", form, h.tag)
	default:
		return fmt.Sprintf("%s [PRIVATE %d]", form, h.tag)
	}
}

// walker goes through the input twice in the same order: the first pass
// (emit false) validates and records, for every element it will write, the
// length of its DER contents in lens, in pre-order; the second (emit true)
// writes each element's header from lens before its contents.
type walker struct {
	in   []byte
	pos  int
	emit bool
	lens []int
	next int // the emit pass's index into lens
	out  []byte
}

// header reads identifier and length octets at w.pos; nothing of the
// element may lie at or beyond limit.
func (w *walker) header(limit int) (header, error) {
	h := header{off: w.pos}
	p := w.pos
	if p >= limit {
		return h, errAt(p, "truncated: an element was expected")
	}
	b := w.in[p]
	p++
	h.class = int(b >> 6)
	h.constructed = b&0x20 != 0
	h.tag = uint32(b & 0x1f)
	if h.tag == 0x1f {
		h.tag = 0
		for i := 0; ; i++ {
			if p >= limit {
				return h, errAt(h.off, "truncated in a high-tag-number identifier")
			}
			c := w.in[p]
			p++
			if i == 0 && c == 0x80 {
				return h, errAt(h.off, "tag number in non-minimal form (leading 0x80 octet)")
			}
			if h.tag > math.MaxInt32>>7 {
				return h, errAt(h.off, "tag number larger than 2^31-1")
			}
			h.tag = h.tag<<7 | uint32(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if h.tag < 0x1f {
			return h, errAt(h.off, "tag number %d in the high-tag-number form, which is for 31 and above", h.tag)
		}
	}
	h.idEnd = p
	if p >= limit {
		return h, errAt(h.off, "truncated: %s without its length octets", h.describe())
	}
	lb := w.in[p]
	p++
	switch {
	case lb < 0x80:
		h.length = int(lb)
	case lb == 0x80:
		if !h.constructed {
			return h, errAt(h.off, "indefinite length on %s", h.describe())
		}
		h.indefinite = true
	case lb == 0xff:
		return h, errAt(h.idEnd, "reserved length octet 0xff")
	default:
		n := int(lb & 0x7f)
		if n > limit-p {
			return h, errAt(h.off, "truncated in the length octets of %s", h.describe())
		}
		v := 0
		for _, c := range w.in[p : p+n] {
			if v > MaxSize>>8 {
				return h, errAt(h.idEnd, "length of %s exceeds %d", h.describe(), MaxSize)
			}
			v = v<<8 | int(c)
		}
		p += n
		h.length = v
	}
	if !h.indefinite && h.length > limit-p {
		return h, errAt(h.off, "truncated: %s has length %d but only %d bytes are left", h.describe(), h.length, limit-p)
	}
	w.pos = p
	return h, nil
}

// eoc reports whether end-of-contents octets are at w.pos, and consumes
// them. open is the offset of the indefinite-length element they would
// close.
func (w *walker) eoc(limit, open int) (bool, error) {
	if w.pos >= limit {
		return false, errAt(open, "truncated: the indefinite-length element has no end-of-contents octets")
	}
	if w.in[w.pos] != 0x00 {
		return false, nil
	}
	if w.pos+1 >= limit {
		return false, errAt(w.pos, "truncated in end-of-contents octets")
	}
	if w.in[w.pos+1] != 0x00 {
		return false, errAt(w.pos, "end-of-contents identifier with a non-zero length octet")
	}
	w.pos += 2
	return true, nil
}

// derLenLen is the size of the DER length octets for contents of n bytes.
func derLenLen(n int) int {
	if n < 0x80 {
		return 1
	}
	l := 1
	for ; n > 0; n >>= 8 {
		l++
	}
	return l
}

func (w *walker) writeHeader(id []byte, clearConstructed bool, n int) {
	start := len(w.out)
	w.out = append(w.out, id...)
	if clearConstructed {
		w.out[start] &^= 0x20
	}
	if n < 0x80 {
		w.out = append(w.out, byte(n))
		return
	}
	l := derLenLen(n) - 1
	w.out = append(w.out, 0x80|byte(l))
	for i := l - 1; i >= 0; i-- {
		w.out = append(w.out, byte(n>>(8*i)))
	}
}

// reserve returns the index in lens of the element about to be walked, and
// in the emit pass its recorded contents length.
func (w *walker) reserve() (int, int) {
	if w.emit {
		i := w.next
		w.next++
		return i, w.lens[i]
	}
	w.lens = append(w.lens, 0)
	return len(w.lens) - 1, 0
}

// element walks one element at w.pos that must end before limit, and
// returns the size of its DER encoding.
func (w *walker) element(depth, limit int) (int, error) {
	h, err := w.header(limit)
	if err != nil {
		return 0, err
	}
	if depth > MaxDepth {
		return 0, errAt(h.off, "nesting deeper than %d", MaxDepth)
	}
	if h.class == classUniversal {
		switch {
		case h.tag == tagEOC:
			return 0, errAt(h.off, "end-of-contents octets where an element was expected")
		case h.constructed && primitiveOnly(h.tag):
			return 0, errAt(h.off, "%s: this type is always primitive", h.describe())
		case !h.constructed && (h.tag == tagSequence || h.tag == tagSet):
			return 0, errAt(h.off, "%s: this type is always constructed", h.describe())
		}
	}
	id := w.in[h.off:h.idEnd]
	idx, n := w.reserve()

	if !h.constructed {
		if w.emit {
			w.writeHeader(id, false, h.length)
			w.out = append(w.out, w.in[w.pos:w.pos+h.length]...)
		}
		w.pos += h.length
		return len(id) + derLenLen(h.length) + h.length, nil
	}

	if h.class == classUniversal && isString(h.tag) {
		st := segments{bits: h.tag == tagBitString, name: h.describe()}
		bitsAt := 0
		if w.emit {
			w.writeHeader(id, true, n)
			if st.bits {
				bitsAt = len(w.out)
				w.out = append(w.out, 0)
			}
		}
		if err := w.segments(h, depth, limit, &st); err != nil {
			return 0, err
		}
		size := st.n
		if st.bits {
			size++
			if w.emit {
				w.out[bitsAt] = st.unused
			}
		}
		if !w.emit {
			w.lens[idx] = size
		}
		return len(id) + derLenLen(size) + size, nil
	}

	if w.emit {
		w.writeHeader(id, false, n)
	}
	size := 0
	if h.indefinite {
		for {
			done, err := w.eoc(limit, h.off)
			if err != nil {
				return 0, err
			}
			if done {
				break
			}
			c, err := w.element(depth+1, limit)
			if err != nil {
				return 0, err
			}
			size += c
		}
	} else {
		end := w.pos + h.length
		for w.pos < end {
			c, err := w.element(depth+1, end)
			if err != nil {
				return 0, err
			}
			size += c
		}
	}
	if !w.emit {
		w.lens[idx] = size
	}
	return len(id) + derLenLen(size) + size, nil
}

// segments is the state of merging a constructed string.
type segments struct {
	bits   bool   // a BIT STRING: segments start with an unused-bits octet
	name   string // the outer element, for errors
	n      int    // content bytes so far (without the unused-bits octet)
	seen   bool   // a primitive segment has been seen
	unused byte   // unused bits of the last primitive segment
}

// segments walks the contents of the constructed string h (whose header
// was just read) and adds its segments to st.
func (w *walker) segments(h header, depth, limit int, st *segments) error {
	if !h.indefinite {
		limit = w.pos + h.length
	}
	for {
		if h.indefinite {
			done, err := w.eoc(limit, h.off)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
		} else if w.pos >= limit {
			return nil
		}
		if err := w.segment(depth+1, limit, st); err != nil {
			return err
		}
	}
}

func (w *walker) segment(depth, limit int, st *segments) error {
	s, err := w.header(limit)
	if err != nil {
		return err
	}
	if depth > MaxDepth {
		return errAt(s.off, "nesting deeper than %d", MaxDepth)
	}
	want := uint32(tagOctetString)
	if st.bits {
		want = tagBitString
	}
	if s.class != classUniversal || s.tag != want {
		return errAt(s.off, "a segment of a %s is a %s; X.690 wants %s segments",
			st.name, s.describe(), universalNames[want])
	}
	if s.constructed {
		return w.segments(s, depth, limit, st)
	}
	data := w.in[w.pos : w.pos+s.length]
	w.pos += s.length
	if st.bits {
		if len(data) == 0 {
			return errAt(s.off, "a BIT STRING segment without its unused-bits octet")
		}
		if st.seen && st.unused != 0 {
			return errAt(s.off, "a BIT STRING segment follows one with %d unused bits; only the last may have any", st.unused)
		}
		u := data[0]
		if u > 7 {
			return errAt(s.off, "a BIT STRING segment with %d unused bits (at most 7)", u)
		}
		if u != 0 && len(data) == 1 {
			return errAt(s.off, "an empty BIT STRING segment with %d unused bits", u)
		}
		st.unused = u
		data = data[1:]
	}
	st.seen = true
	st.n += len(data)
	if w.emit {
		w.out = append(w.out, data...)
	}
	return nil
}
