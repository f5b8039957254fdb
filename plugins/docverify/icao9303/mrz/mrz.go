package mrz

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Format is the size of the document, which decides the MRZ's layout.
type Format int

const (
	// TD1 is the identity card size: 3 lines of 30 characters.
	TD1 Format = 1
	// TD2 is 2 lines of 36 characters.
	TD2 Format = 2
	// TD3 is the passport size: 2 lines of 44 characters.
	TD3 Format = 3
)

func (f Format) String() string {
	switch f {
	case TD1, TD2, TD3:
		return fmt.Sprintf("TD%d", int(f))
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// lines and width of each format; nameLen is the name field's length.
func (f Format) shape() (lines, width, nameLen int) {
	switch f {
	case TD1:
		return 3, 30, 30
	case TD2:
		return 2, 36, 31
	case TD3:
		return 2, 44, 39
	}
	return 0, 0, 0
}

// Fields, as errors name them.
const (
	FieldDocumentNumber = "document number"
	FieldDateOfBirth    = "date of birth"
	FieldDateOfExpiry   = "date of expiry"
	FieldOptionalData   = "optional data"
	FieldComposite      = "composite"
)

var (
	// ErrMalformed: the input is not an MRZ (length, characters, a field
	// that is not of its form, the DG1 encoding).
	ErrMalformed = errors.New("mrz: malformed")
	// ErrCheckDigit: a check digit is wrong; the error is a
	// *CheckDigitError naming every one.
	ErrCheckDigit = errors.New("mrz: wrong check digit")
)

// CheckDigitError lists the fields whose check digit is wrong, in MRZ
// order (FieldDocumentNumber, …, FieldComposite). It matches
// ErrCheckDigit with errors.Is.
type CheckDigitError struct {
	Fields []string
}

func (e *CheckDigitError) Error() string {
	return "mrz: wrong check digit: " + strings.Join(e.Fields, ", ")
}

func (e *CheckDigitError) Is(target error) bool { return target == ErrCheckDigit }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// MRZ is a parsed machine readable zone. Its fields hold personal data:
// do not log them (String and LogValue leave them out).
type MRZ struct {
	Format Format
	// DocumentCode is positions 1–2 without fillers: "P", "PO", "ID", "I", "AC", ….
	DocumentCode string
	// IssuingState and Nationality are the three characters as the MRZ has
	// them, fillers kept ("D<<" for Germany, "UTO").
	IssuingState string
	// Surname is the primary identifier, GivenNames the secondary one, with
	// < as spaces. Either may be truncated (NameMayBeTruncated).
	Surname, GivenNames string
	// NameMayBeTruncated: the name field is used up to its last position,
	// so the issuer may have truncated the name.
	NameMayBeTruncated bool
	// DocumentNumber is without fillers; a long TD1 or TD2 number is whole.
	DocumentNumber string
	Nationality    string
	// DateOfBirth is zero when the MRZ does not give it in full; BirthDate
	// is the MRZ's YYMMDD, fillers kept.
	DateOfBirth time.Time
	BirthDate   string
	// Sex is "F", "M", "X" or "<" (unspecified).
	Sex          string
	DateOfExpiry time.Time
	// OptionalData is the optional data field without its fillers (TD3:
	// the personal number; TD1: the upper line's; TD2: line 2's), after
	// the rest of a long document number; OptionalData2 is TD1's second,
	// on the middle line.
	OptionalData, OptionalData2 string

	nameField string // the name field, trailing fillers removed
}

// String leaves out everything personal.
func (m *MRZ) String() string {
	if m == nil {
		return "MRZ(nil)"
	}
	return fmt.Sprintf("MRZ(%s %s %s)", m.Format, m.DocumentCode, m.IssuingState)
}

// GoString is String: %#v must not print names either.
func (m *MRZ) GoString() string { return m.String() }

// LogValue gives slog the same fields as String.
func (m *MRZ) LogValue() slog.Value {
	if m == nil {
		return slog.StringValue("MRZ(nil)")
	}
	return slog.GroupValue(slog.String("format", m.Format.String()), slog.String("documentCode", m.DocumentCode),
		slog.String("issuingState", m.IssuingState))
}

var _ slog.LogValuer = (*MRZ)(nil)

// Parse reads an MRZ given as its characters, either concatenated (as
// DG1 holds them: 90, 72 or 88 characters) or as lines separated by
// newlines. Dates get their century by the current time (see the package
// documentation).
func Parse(text string) (*MRZ, error) { return ParseAt(text, time.Now()) }

// ParseAt is Parse with the reference time for the century rules.
func ParseAt(text string, now time.Time) (*MRZ, error) {
	var f Format
	if strings.ContainsAny(text, "\r\n") {
		lines := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), "\n")
		switch {
		case len(lines) == 3 && len(lines[0]) == 30:
			f = TD1
		case len(lines) == 2 && len(lines[0]) == 36:
			f = TD2
		case len(lines) == 2 && len(lines[0]) == 44:
			f = TD3
		default:
			return nil, malformed("%d lines, the first of %d characters: not TD1 (3 × 30), TD2 (2 × 36) or TD3 (2 × 44)",
				len(lines), len(lines[0]))
		}
		_, width, _ := f.shape()
		for i, l := range lines {
			if len(l) != width {
				return nil, malformed("%s line %d has %d characters, not %d", f, i+1, len(l), width)
			}
		}
		text = strings.Join(lines, "")
	} else {
		switch len(text) {
		case 90:
			f = TD1
		case 72:
			f = TD2
		case 88:
			f = TD3
		default:
			return nil, malformed("%d characters: not TD1 (90), TD2 (72) or TD3 (88)", len(text))
		}
	}
	_, width, _ := f.shape()
	for i := 0; i < len(text); i++ {
		if c := text[i]; !isLetter(c) && !isDigit(c) && c != '<' {
			return nil, malformed("line %d, position %d: a character other than A-Z, 0-9 and <", i/width+1, i%width+1)
		}
	}
	switch f {
	case TD1:
		return parseTD1(text, now)
	case TD2:
		return parseTD23(TD2, text, now)
	default:
		return parseTD23(TD3, text, now)
	}
}

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// checkDigit is ICAO 9303 part 3 4.9: weights 7, 3, 1; < is 0, A–Z 10–35.
func checkDigit(s string) byte {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		var v int
		switch c := s[i]; {
		case isDigit(c):
			v = int(c - '0')
		case isLetter(c):
			v = int(c-'A') + 10
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10)
}

// checks collects the fields whose check digit is wrong.
type checks []string

func (c *checks) verify(field, data string, digit byte) {
	if checkDigit(data) != digit {
		*c = append(*c, field)
	}
}

func (c checks) err() error {
	if len(c) == 0 {
		return nil
	}
	return &CheckDigitError{Fields: c}
}

func trimFill(s string) string { return strings.TrimRight(s, "<") }

// header reads the document code and issuing state, positions 1–5 of
// the first line.
func header(m *MRZ, line string) error {
	code := line[0:2]
	if !isLetter(code[0]) {
		return malformed("the document code does not start with a letter")
	}
	if code[0] == 'V' {
		return malformed("document code V: visas (MRV-A, MRV-B) are not supported")
	}
	if code[1] != '<' && !isLetter(code[1]) {
		return malformed("the document code's second character is not a letter or <")
	}
	m.DocumentCode = trimFill(code)
	var err error
	if m.IssuingState, err = stateCode(line[2:5], "issuing state"); err != nil {
		return err
	}
	return nil
}

// stateCode checks a three-letter code: letters, then fillers.
func stateCode(s, what string) (string, error) {
	t := trimFill(s)
	if t == "" {
		return "", malformed("the %s is empty", what)
	}
	for i := 0; i < len(t); i++ {
		if !isLetter(t[i]) {
			return "", malformed("the %s is not letters followed by fillers", what)
		}
	}
	return s, nil
}

// name reads a name field.
func name(m *MRZ, field string) error {
	for i := 0; i < len(field); i++ {
		if isDigit(field[i]) {
			return malformed("the name field has a digit")
		}
	}
	if field[0] == '<' && field[1] != '<' {
		return malformed("the name field starts with a single filler")
	}
	m.NameMayBeTruncated = field[len(field)-1] != '<'
	m.nameField = trimFill(field)
	primary, secondary, _ := strings.Cut(m.nameField, "<<")
	m.Surname = spaces(primary)
	m.GivenNames = spaces(strings.TrimLeft(secondary, "<"))
	return nil
}

// spaces turns fillers into single spaces.
func spaces(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '<' }), " ")
}

// documentNumber reads a document number field and its check digit; when
// the check digit is a filler and longOK, the number goes on in opt, the
// optional data field after it. It returns the optional data that is left.
func documentNumber(m *MRZ, c *checks, num string, digit byte, opt string, longOK bool) (rest string, err error) {
	if digit != '<' {
		m.DocumentNumber = trimFill(num)
		if strings.Contains(m.DocumentNumber, "<") {
			return "", malformed("the document number has a filler inside")
		}
		if m.DocumentNumber == "" {
			return "", malformed("the document number is empty")
		}
		c.verify(FieldDocumentNumber, num, digit)
		return opt, nil
	}
	if !longOK {
		// A check digit that is not a digit is a wrong one.
		*c = append(*c, FieldDocumentNumber)
		m.DocumentNumber = trimFill(num)
		return opt, nil
	}
	// Part 5 4.2.4: the nine principal characters, a filler, then the rest
	// and its check digit open the optional data, followed by a filler.
	if strings.Contains(num, "<") {
		return "", malformed("a long document number whose first nine characters have a filler")
	}
	end := strings.IndexByte(opt, '<')
	if end < 0 {
		end = len(opt)
	}
	if end < 2 {
		return "", malformed("the document number's check digit is a filler, but the optional data does not continue the number")
	}
	whole := num + opt[:end-1]
	m.DocumentNumber = whole
	c.verify(FieldDocumentNumber, whole, opt[end-1])
	return opt[end:], nil
}

func sex(m *MRZ, c byte) error {
	switch c {
	case 'F', 'M', 'X', '<':
		m.Sex = string(c)
		return nil
	}
	return malformed("the sex is not F, M, X or <")
}

func dates(m *MRZ, birth, expiry string, now time.Time) error {
	var err error
	m.BirthDate = birth
	if m.DateOfBirth, err = birthDate(birth, now); err != nil {
		return err
	}
	m.DateOfExpiry, err = expiryDate(expiry, now)
	return err
}

// parseTD1 reads ICAO 9303 part 5's layout.
func parseTD1(t string, now time.Time) (*MRZ, error) {
	l1, l2, l3 := t[0:30], t[30:60], t[60:90]
	m := &MRZ{Format: TD1}
	if err := header(m, l1); err != nil {
		return nil, err
	}
	var c checks
	opt1, err := documentNumber(m, &c, l1[5:14], l1[14], l1[15:30], true)
	if err != nil {
		return nil, err
	}
	m.OptionalData = strings.Trim(opt1, "<")
	c.verify(FieldDateOfBirth, l2[0:6], l2[6])
	c.verify(FieldDateOfExpiry, l2[8:14], l2[14])
	c.verify(FieldComposite, l1[5:30]+l2[0:7]+l2[8:15]+l2[18:29], l2[29])
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := sex(m, l2[7]); err != nil {
		return nil, err
	}
	if m.Nationality, err = stateCode(l2[15:18], "nationality"); err != nil {
		return nil, err
	}
	m.OptionalData2 = trimFill(l2[18:29])
	if err := dates(m, l2[0:6], l2[8:14], now); err != nil {
		return nil, err
	}
	if err := name(m, l3); err != nil {
		return nil, err
	}
	return m, nil
}

// parseTD23 reads ICAO 9303 part 4's (TD3) and part 6's (TD2) layouts,
// which differ in the name field's length and the optional data.
func parseTD23(f Format, t string, now time.Time) (*MRZ, error) {
	_, w, _ := f.shape()
	l1, l2 := t[:w], t[w:]
	m := &MRZ{Format: f}
	if err := header(m, l1); err != nil {
		return nil, err
	}
	var c checks
	// TD3: 29–42 the personal number, 43 its check digit, 44 the
	// composite; TD2: 29–35 optional data, 36 the composite.
	optEnd := w - 1
	if f == TD3 {
		optEnd = w - 2
	}
	opt, err := documentNumber(m, &c, l2[0:9], l2[9], l2[28:optEnd], f == TD2)
	if err != nil {
		return nil, err
	}
	c.verify(FieldDateOfBirth, l2[13:19], l2[19])
	c.verify(FieldDateOfExpiry, l2[21:27], l2[27])
	if f == TD3 {
		// Part 4: the personal number's check digit may be < (or 0)
		// when the field is all fillers.
		pn, d := l2[28:42], l2[42]
		if !(d == '<' && trimFill(pn) == "") {
			c.verify(FieldOptionalData, pn, d)
		}
	}
	c.verify(FieldComposite, l2[0:10]+l2[13:20]+l2[21:w-1], l2[w-1])
	if err := c.err(); err != nil {
		return nil, err
	}
	m.OptionalData = strings.Trim(opt, "<")
	if m.Nationality, err = stateCode(l2[10:13], "nationality"); err != nil {
		return nil, err
	}
	if err := sex(m, l2[20]); err != nil {
		return nil, err
	}
	if err := dates(m, l2[13:19], l2[21:27], now); err != nil {
		return nil, err
	}
	if err := name(m, l1[5:]); err != nil {
		return nil, err
	}
	return m, nil
}
