package mrz

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Attributes of the holder, as MismatchError names them.
const (
	AttributeSurname     = "surname"
	AttributeGivenNames  = "given names"
	AttributeDateOfBirth = "date of birth"
	AttributeNationality = "nationality"
)

var (
	// ErrHolderMismatch: the document's holder is not the person whose
	// attributes were given; the error is a *MismatchError.
	ErrHolderMismatch = errors.New("mrz: the holder does not match")
	// ErrTransliteration: a stored name has a character that has no
	// transliteration here (see the package documentation).
	ErrTransliteration = errors.New("mrz: no ICAO 9303 transliteration")
)

// MismatchError names the attributes that did not match, never their
// values. It matches ErrHolderMismatch with errors.Is.
type MismatchError struct {
	Attributes []string
}

func (e *MismatchError) Error() string {
	return "mrz: the holder does not match: " + strings.Join(e.Attributes, ", ")
}

func (e *MismatchError) Is(target error) bool { return target == ErrHolderMismatch }

// MatchHolder checks that the MRZ's holder is the person with these
// stored attributes: names as the person writes them (Ørsted, not
// OERSTED), transliterated as the package documentation says; the date of
// birth by its day (the MRZ's YYMMDD against birth's); the nationality as
// an ICAO code ("DNK", "D" or "D<<"), not checked when empty. It returns
// nil, a *MismatchError, or an error wrapping ErrTransliteration when a
// stored name cannot be written in the MRZ's alphabet.
func MatchHolder(m *MRZ, surname, givenNames string, birth time.Time, nationality string) error {
	if m == nil {
		return errors.New("mrz: no MRZ to match")
	}
	st, err := tokenize(surname)
	if err != nil {
		return fmt.Errorf("mrz: the stored surname: %w", err)
	}
	gt, err := tokenize(givenNames)
	if err != nil {
		return fmt.Errorf("mrz: the stored given names: %w", err)
	}
	primary, secondary, _ := strings.Cut(m.nameField, "<<")
	secondary = strings.TrimLeft(secondary, "<")
	trunc := m.NameMayBeTruncated

	var bad []string
	if len(st) == 0 || primary == "" || !matchPart(st, primary, trunc) {
		bad = append(bad, AttributeSurname)
	}
	switch {
	case secondary == "":
		// No secondary identifier: none stored, or truncated away.
		if len(gt) != 0 && !trunc {
			bad = append(bad, AttributeGivenNames)
		}
	case len(gt) == 0 || !matchPart(gt, secondary, trunc):
		bad = append(bad, AttributeGivenNames)
	}
	if birth.IsZero() || strings.Contains(m.BirthDate, "<") || birth.Format("060102") != m.BirthDate {
		bad = append(bad, AttributeDateOfBirth)
	}
	if nationality != "" {
		n := nationality
		if len(n) < 3 {
			n += strings.Repeat("<", 3-len(n))
		}
		if n != m.Nationality {
			bad = append(bad, AttributeNationality)
		}
	}
	if len(bad) != 0 {
		return &MismatchError{Attributes: bad}
	}
	return nil
}

// Transliterate writes a name as the MRZ does, with ICAO 9303 part 3's
// recommended transliteration: "Ørsted" → "OERSTED", "Anna-Maria" →
// "ANNA<MARIA", "O'Neill" → "ONEILL".
func Transliterate(name string) (string, error) {
	toks, err := tokenize(name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.alts[0])
	}
	return b.String(), nil
}

type kind int

const (
	kLetter kind = iota
	kSep         // a space, hyphen or comma: <
	kApos        // an apostrophe: omitted, or <
)

type token struct {
	kind kind
	base rune // the upper-case letter, for composing with combining marks
	alts []string
}

var (
	sepToken  = token{kind: kSep, alts: []string{"<"}}
	aposToken = token{kind: kApos, alts: []string{"", "<"}}
)

// tokenize turns a stored name into tokens, each with the MRZ forms
// accepted for it, the recommended first.
func tokenize(name string) ([]token, error) {
	var toks []token
	for _, r := range name {
		switch {
		case r == ' ' || r == '\u00A0' || r == '-' || r == '\u2010' || r == '\u2011' || r == ',':
			toks = append(toks, sepToken)
			continue
		case r == '\'' || r == '\u2019' || r == '\u2018' || r == '\u02BC' || r == '`' || r == '\u00B4':
			toks = append(toks, aposToken)
			continue
		case r == '.':
			continue
		case unicode.Is(unicode.Mn, r):
			// A combining mark: compose it with the letter before it
			// where that changes the transliteration, else drop it.
			if n := len(toks); n > 0 && toks[n-1].kind == kLetter {
				if c, ok := compose[[2]rune{toks[n-1].base, r}]; ok {
					toks[n-1] = letter(c)
				}
				continue
			}
			return nil, fmt.Errorf("%w for a combining mark (U+%04X) without a letter before it", ErrTransliteration, r)
		}
		u := unicode.ToUpper(r)
		if 'A' <= u && u <= 'Z' {
			toks = append(toks, token{kind: kLetter, base: u, alts: []string{string(u)}})
			continue
		}
		if _, ok := latin[u]; !ok {
			return nil, fmt.Errorf("%w for U+%04X", ErrTransliteration, r)
		}
		toks = append(toks, letter(u))
	}
	// Collapse runs of separators, drop them at either end, and omit an
	// apostrophe that is next to a separator or an end.
	out := toks[:0]
	for i, t := range toks {
		switch t.kind {
		case kSep:
			if len(out) == 0 || out[len(out)-1].kind == kSep {
				continue
			}
			if out[len(out)-1].kind == kApos {
				out[len(out)-1] = t
				continue
			}
		case kApos:
			if len(out) == 0 || out[len(out)-1].kind != kLetter || i+1 == len(toks) {
				continue
			}
		}
		out = append(out, t)
	}
	for len(out) > 0 && out[len(out)-1].kind != kLetter {
		out = out[:len(out)-1]
	}
	return out, nil
}

func letter(u rune) token {
	if alts, ok := latin[u]; ok {
		return token{kind: kLetter, base: u, alts: alts}
	}
	return token{kind: kLetter, base: u, alts: []string{string(u)}}
}

// matchPart says whether the MRZ's part (primary or secondary identifier)
// is a way of writing toks. When trunc, each MRZ component may be a
// non-empty prefix of the stored one, and trailing components may be
// missing.
func matchPart(toks []token, s string, trunc bool) bool {
	const (
		unknown = iota
		no
		yes
	)
	stride := len(s) + 1
	memo := make([]uint8, (len(toks)+1)*stride*2)
	// nextSep is the first separator at or after i.
	nextSep := func(i int) int {
		for i < len(toks) && toks[i].kind != kSep {
			i++
		}
		return i
	}
	var rec func(i, j int, started bool) bool
	rec = func(i, j int, started bool) bool {
		if j == len(s) {
			return i == len(toks) || trunc
		}
		if i == len(toks) {
			return false
		}
		k := (i*stride + j) * 2
		if started {
			k++
		}
		if memo[k] != unknown {
			return memo[k] == yes
		}
		memo[k] = no
		t, rest := toks[i], s[j:]
		for _, a := range t.alts {
			if strings.HasPrefix(rest, a) {
				ns := started
				switch {
				case t.kind == kSep || a == "<":
					ns = false
				case t.kind == kLetter:
					ns = true
				}
				if rec(i+1, j+len(a), ns) {
					memo[k] = yes
					return true
				}
			}
			if trunc && t.kind == kLetter {
				// The MRZ's component may end inside this letter's
				// transliteration (Ü as UE, cut after the U).
				for p := 1; p < len(a); p++ {
					if !strings.HasPrefix(rest, a[:p]) {
						break
					}
					if e := j + p; e == len(s) || (s[e] == '<' && rec(nextSep(i+1), e, false)) {
						memo[k] = yes
						return true
					}
				}
			}
		}
		// Truncated: the rest of this component was cut off.
		if trunc && started && t.kind != kSep && (rest[0] == '<') && rec(nextSep(i), j, false) {
			memo[k] = yes
			return true
		}
		return false
	}
	return rec(0, 0, false)
}
