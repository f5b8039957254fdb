package mrz

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// now is the reference time of these tests.
var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The specimens of ICAO 9303 (7th edition): part 4 appendix (TD3), part 5
// (TD1, and its long document number of 4.2.4), part 6 (TD2).
const (
	td3Line1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
	td3Line2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"

	td1Line1 = "I<UTOD231458907<<<<<<<<<<<<<<<"
	td1Line2 = "7408122F1204159UTO<<<<<<<<<<<6"
	td1Line3 = "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"

	td2Line1 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<"
	td2Line2 = "D231458907UTO7408122F1204159<<<<<<<6"

	// Part 5 4.2.4: document number D23145890734, check digit 9; the
	// composite recomputed for it.
	td1LongLine1 = "I<UTOD23145890<7349<<<<<<<<<<<"
	td1LongLine2 = "7408122F1204159UTO<<<<<<<<<<<6"
	// The same for TD2 (part 6 4.2.4).
	td2LongLine2 = "D23145890<UTO7408122F12041597349<<<2"
)

func TestSpecimens(t *testing.T) {
	erikssonTD3 := MRZ{Format: TD3, DocumentCode: "P", IssuingState: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
		DocumentNumber: "L898902C3", Nationality: "UTO", DateOfBirth: date(1974, 8, 12), BirthDate: "740812", Sex: "F",
		DateOfExpiry: date(2012, 4, 15), OptionalData: "ZE184226B", nameField: "ERIKSSON<<ANNA<MARIA"}
	erikssonTD1 := erikssonTD3
	erikssonTD1.Format, erikssonTD1.DocumentCode, erikssonTD1.DocumentNumber, erikssonTD1.OptionalData = TD1, "I", "D23145890", ""
	erikssonTD2 := erikssonTD1
	erikssonTD2.Format = TD2
	long1 := erikssonTD1
	long1.DocumentNumber = "D23145890734"
	long2 := erikssonTD2
	long2.DocumentNumber = "D23145890734"

	for name, c := range map[string]struct {
		text string
		want MRZ
	}{
		"TD3":                      {td3Line1 + td3Line2, erikssonTD3},
		"TD3 in lines":             {td3Line1 + "\n" + td3Line2 + "\n", erikssonTD3},
		"TD3 in CRLF lines":        {td3Line1 + "\r\n" + td3Line2, erikssonTD3},
		"TD1":                      {td1Line1 + td1Line2 + td1Line3, erikssonTD1},
		"TD1 in lines":             {td1Line1 + "\n" + td1Line2 + "\n" + td1Line3, erikssonTD1},
		"TD2":                      {td2Line1 + td2Line2, erikssonTD2},
		"TD1 long document number": {td1LongLine1 + td1LongLine2 + td1Line3, long1},
		"TD2 long document number": {td2Line1 + td2LongLine2, long2},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ParseAt(c.text, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*m, c.want) {
				t.Errorf("got  %+v\nwant %+v", fields(m), fields(&c.want))
			}
		})
	}
}

// fields shows an MRZ's fields, for a failing test only (String hides them).
func fields(m *MRZ) string {
	type plain MRZ
	return fmt.Sprintf("%+v", plain(*m))
}

func TestCheckDigitTable(t *testing.T) {
	for s, want := range map[string]byte{"L898902C3": '6', "740812": '2', "120415": '9', "ZE184226B<<<<<": '1',
		"D23145890": '7', "D23145890734": '9', "<<<<<<<<<": '0', "AZ": '0' + (10*7+35*3)%10} {
		if got := checkDigit(s); got != want {
			t.Errorf("checkDigit(%q) = %c, want %c", s, got, want)
		}
	}
}

// set replaces the character at i (0-based, in the concatenated MRZ).
func set(s string, i int, c byte) string { return s[:i] + string(c) + s[i+1:] }

func TestCheckDigitFailures(t *testing.T) {
	td3 := td3Line1 + td3Line2
	td1 := td1Line1 + td1Line2 + td1Line3
	for name, c := range map[string]struct {
		text string
		want []string
	}{
		"TD3 document number":     {set(td3, 44+9, '7'), []string{FieldDocumentNumber, FieldComposite}},
		"TD3 a changed number":    {set(td3, 44+0, 'M'), []string{FieldDocumentNumber, FieldComposite}},
		"TD3 birth":               {set(td3, 44+19, '3'), []string{FieldDateOfBirth, FieldComposite}},
		"TD3 a changed birth":     {set(td3, 44+18, '3'), []string{FieldDateOfBirth, FieldComposite}},
		"TD3 expiry":              {set(td3, 44+27, '0'), []string{FieldDateOfExpiry, FieldComposite}},
		"TD3 optional data":       {set(td3, 44+42, '2'), []string{FieldOptionalData, FieldComposite}},
		"TD3 composite":           {set(td3, 44+43, '1'), []string{FieldComposite}},
		"TD3 a letter as a digit": {set(td3, 44+43, 'A'), []string{FieldComposite}},
		"TD3 a filler as a digit": {set(td3, 44+9, '<'), []string{FieldDocumentNumber, FieldComposite}},
		// Only the composite covers the nationality's neighbours: the sex is
		// covered by nothing, a changed optional data digit by both.
		"TD3 personal number": {set(td3, 44+29, 'F'), []string{FieldOptionalData, FieldComposite}},
		"TD1 document number": {set(td1, 14, '8'), []string{FieldDocumentNumber, FieldComposite}},
		"TD1 birth":           {set(td1, 30+6, '3'), []string{FieldDateOfBirth, FieldComposite}},
		"TD1 expiry":          {set(td1, 30+14, '0'), []string{FieldDateOfExpiry, FieldComposite}},
		"TD1 composite":       {set(td1, 59, '5'), []string{FieldComposite}},
		"TD1 optional data":   {set(td1, 20, 'X'), []string{FieldComposite}},
		"TD1 long number":     {set(td1LongLine1+td1LongLine2+td1Line3, 18, '8'), []string{FieldDocumentNumber, FieldComposite}},
		"TD2 composite":       {set(td2Line1+td2Line2, 36+35, '7'), []string{FieldComposite}},
		"TD2 expiry":          {set(td2Line1+td2Line2, 36+21, '2'), []string{FieldDateOfExpiry, FieldComposite}},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ParseAt(c.text, now)
			var cde *CheckDigitError
			if !errors.As(err, &cde) || !errors.Is(err, ErrCheckDigit) || m != nil {
				t.Fatalf("got %v, %v; want a CheckDigitError", m, err)
			}
			if !reflect.DeepEqual(cde.Fields, c.want) {
				t.Errorf("wrong check digits %q, want %q", cde.Fields, c.want)
			}
			for _, personal := range []string{"L898902C3", "D23145890", "ERIKSSON", "740812"} {
				if strings.Contains(err.Error(), personal) {
					t.Errorf("the error %q quotes the MRZ", err)
				}
			}
		})
	}
}

func TestOptionalDataCheckDigitFiller(t *testing.T) {
	// Part 4: a personal number of fillers may have < (or 0) as its check digit.
	l2 := "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<?"
	for _, d := range []byte{'<', '0'} {
		s := set(l2, 42, d)
		s = set(s, 43, checkDigit(s[0:10]+s[13:20]+s[21:43]))
		m, err := ParseAt(td3Line1+s, now)
		if err != nil {
			t.Fatalf("personal number check digit %c: %v", d, err)
		}
		if m.OptionalData != "" {
			t.Errorf("optional data %q", m.OptionalData)
		}
	}
}

func TestMalformed(t *testing.T) {
	td3 := td3Line1 + td3Line2
	for name, text := range map[string]string{
		"empty":                   "",
		"short":                   td3[:87],
		"long":                    td3 + "<",
		"lower case":              strings.ToLower(td3),
		"a space":                 set(td3, 20, ' '),
		"non-ASCII":               td3[:86] + "Ø",
		"uneven lines":            td3Line1 + "<\n" + td3Line2[1:],
		"four lines":              td1Line1 + "\n" + td1Line2 + "\n" + td1Line3 + "\n" + td1Line3,
		"a visa":                  "V" + td3[1:],
		"a digit as the code":     "1" + td3[1:],
		"a digit in the name":     set(td3, 12, '1'),
		"a name after a filler":   td3Line1[:5] + "<" + td3Line1[5:43] + td3Line2,
		"a digit in the state":    set(td3, 2, '1'),
		"no nationality":          td3Line1 + "L898902C36<<<7408122F1204159ZE184226B<<<<<10",
		"sex Q":                   td3Line1 + "L898902C36UTO7408122Q1204159ZE184226B<<<<<10",
		"month 13":                mrzTD3(td3Line1, "L898902C3", "UTO", "741312", "F", "120415", "ZE184226B"),
		"30 February":             mrzTD3(td3Line1, "L898902C3", "UTO", "740230", "F", "120415", "ZE184226B"),
		"29 February 2001":        mrzTD3(td3Line1, "L898902C3", "UTO", "740812", "F", "010229", "ZE184226B"),
		"an expiry with fillers":  mrzTD3(td3Line1, "L898902C3", "UTO", "740812", "F", "1204<<", "ZE184226B"),
		"a birth with letters":    mrzTD3(td3Line1, "L898902C3", "UTO", "74AB12", "F", "120415", "ZE184226B"),
		"a filler in the number":  mrzTD3(td3Line1, "L89<902C3", "UTO", "740812", "F", "120415", "ZE184226B"),
		"TD1 long number, no end": "I<UTOD23145890<<<<<<<<<<<<<<<<" + td1LongLine2 + td1Line3,
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ParseAt(text, now)
			if !errors.Is(err, ErrMalformed) || m != nil {
				t.Fatalf("got %v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

// mrzTD3 builds a TD3 MRZ with its check digits.
func mrzTD3(line1, number, nationality, birth, sex, expiry, personal string) string {
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	number, personal = pad(number, 9), pad(personal, 14)
	l2 := number + string(checkDigit(number)) + nationality + birth + string(checkDigit(birth)) + sex +
		expiry + string(checkDigit(expiry)) + personal + string(checkDigit(personal))
	l2 += string(checkDigit(l2[0:10] + l2[13:20] + l2[21:43]))
	return line1 + l2
}

// td3Name is a TD3 first line for a name field.
func td3Name(state, field string) string {
	return "P<" + state + field + strings.Repeat("<", 39-len(field))
}

func TestCentury(t *testing.T) {
	for _, c := range []struct {
		birth, expiry string
		born, expires time.Time
	}{
		{"740812", "120415", date(1974, 8, 12), date(2012, 4, 15)},
		{"261202", "761231", date(2026, 12, 2), date(2076, 12, 31)},  // born today; 50 years out
		{"261203", "770101", date(1926, 12, 3), date(1977, 1, 1)},    // tomorrow: 1926; 51 years out: 1977
		{"270101", "991231", date(1927, 1, 1), date(1999, 12, 31)},   // a YY after now's
		{"000229", "000229", date(2000, 2, 29), date(2000, 2, 29)},   // 2000 is a leap year
		{"991231", "300101", date(1999, 12, 31), date(2030, 1, 1)},   // the usual
		{"200615", "360615", date(2020, 6, 15), date(2036, 6, 15)},   // a child
		{"9905<<", "360615", time.Time{}, date(2036, 6, 15)},         // day unknown
		{"99<<<<", "360615", time.Time{}, date(2036, 6, 15)},         // day and month unknown
		{"<<<<<<", "360615", time.Time{}, date(2036, 6, 15)},         // unknown
		{"260101", "260101", date(2026, 1, 1), date(2026, 1, 1)},     // this year
		{"261201", "000101", date(2026, 12, 1), date(2000, 1, 1)},    // yesterday
		{"261231", "261231", date(1926, 12, 31), date(2026, 12, 31)}, // later this year: 1926
		{"000101", "990101", date(2000, 1, 1), date(1999, 1, 1)},     // an expiry 73 years out: 1999
	} {
		m, err := ParseAt(mrzTD3(td3Line1, "L898902C3", "UTO", c.birth, "F", c.expiry, ""), now)
		if err != nil {
			t.Errorf("birth %s, expiry %s: %v", c.birth, c.expiry, err)
			continue
		}
		if !m.DateOfBirth.Equal(c.born) || m.BirthDate != c.birth {
			t.Errorf("birth %s: %v (%s), want %v", c.birth, m.DateOfBirth, m.BirthDate, c.born)
		}
		if !m.DateOfExpiry.Equal(c.expires) {
			t.Errorf("expiry %s: %v, want %v", c.expiry, m.DateOfExpiry, c.expires)
		}
	}
}

func TestNothingPersonalPrinted(t *testing.T) {
	m, err := ParseAt(td3Line1+td3Line2, now)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("parsed", "mrz", m)
	out := fmt.Sprintf("%v %+v %#v %s", m, m, m, m) + logged.String()
	for _, personal := range []string{"ERIKSSON", "ANNA", "L898902C3", "740812", "1974", "ZE184226B"} {
		if strings.Contains(out, personal) {
			t.Errorf("%q printed: %s", personal, out)
		}
	}
	if !strings.Contains(out, "TD3") || !strings.Contains(out, "UTO") {
		t.Errorf("the format and issuing state are missing: %s", out)
	}
}

func dg1(inner []byte) []byte {
	el := append([]byte{0x5F, 0x1F}, berLen(len(inner))...)
	el = append(el, inner...)
	return append(append([]byte{0x61}, berLen(len(el))...), el...)
}

func berLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	}
	return []byte{0x82, byte(n >> 8), byte(n)}
}

func TestParseDG1(t *testing.T) {
	good := dg1([]byte(td3Line1 + td3Line2))
	if !bytes.HasPrefix(good, []byte{0x61, 0x5B, 0x5F, 0x1F, 0x58}) {
		t.Fatalf("test DG1 starts % x", good[:5])
	}
	m, err := ParseDG1At(good, now)
	if err != nil || m.DocumentNumber != "L898902C3" {
		t.Fatalf("got %v, %v", m, err)
	}
	// Long forms of the lengths are BER too.
	long := append([]byte{0x61, 0x82, 0x00, 0x5C, 0x5F, 0x1F, 0x81, 0x58}, td3Line1+td3Line2...)
	if _, err := ParseDG1At(long, now); err != nil {
		t.Errorf("0x82 and 0x81 lengths: %v", err)
	}
	td1 := dg1([]byte(td1Line1 + td1Line2 + td1Line3))
	if m, err := ParseDG1At(td1, now); err != nil || m.Format != TD1 {
		t.Errorf("TD1: %v, %v", m, err)
	}

	inner := good[2:]
	for name, b := range map[string][]byte{
		"empty":                  nil,
		"trailing data":          append(append([]byte{}, good...), 0x00),
		"data after the MRZ":     dg1wrap(append(append([]byte{}, inner...), 0x90, 0x00)),
		"another tag":            append([]byte{0x62}, good[1:]...),
		"another inner tag":      append(append([]byte{}, good[:3]...), append([]byte{0x20}, good[4:]...)...),
		"indefinite length":      append([]byte{0x61, 0x80}, inner...),
		"a 4-byte length":        append([]byte{0x61, 0x83, 0x00, 0x00, 0x5B}, inner...),
		"length too long":        append([]byte{0x61, 0x5C}, inner...),
		"truncated length":       {0x61, 0x82, 0x00},
		"just the tag":           {0x61},
		"inner truncated":        {0x61, 0x03, 0x5F, 0x1F, 0x58},
		"an MRZ of the bad size": dg1([]byte(td3Line1 + td3Line2[:43])),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := ParseDG1At(b, now)
			if !errors.Is(err, ErrMalformed) || m != nil {
				t.Fatalf("got %v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

func dg1wrap(inner []byte) []byte {
	return append(append([]byte{0x61}, berLen(len(inner))...), inner...)
}

func TestTransliterate(t *testing.T) {
	for in, want := range map[string]string{
		"Ørsted":                 "OERSTED",
		"Müller":                 "MUELLER",
		"Mu\u0308ller":           "MUELLER", // decomposed
		"Åse":                    "AASE",
		"Ærø":                    "AEROE",
		"Straße":                 "STRASSE",
		"STRAẞE":                 "STRASSE",
		"Þórunn":                 "THORUNN",
		"Łukasz Wałęsa":          "LUKASZ<WALESA",
		"Anna-Maria":             "ANNA<MARIA",
		"Anna - Maria":           "ANNA<MARIA",
		"  van der Berg ":        "VAN<DER<BERG",
		"O'Neill":                "ONEILL",
		"D’Artagnan":             "DARTAGNAN",
		"St. John":               "ST<JOHN",
		"José Ñúñez":             "JOSE<NUNEZ",
		"Çağlar Işık":            "CAGLAR<ISIK",
		"İstanbul":               "ISTANBUL",
		"Dvořák Čapek":           "DVORAK<CAPEK",
		"Ștefan Țiriac":          "STEFAN<TIRIAC",
		"Œuvre Ĳssel":            "OEUVRE<IJSSEL",
		"Ðorđe":                  "DORDE",
		"Ŀlívia":                 "LLIVIA",
		"é\u0301":                "E",
		"Zoë":                    "ZOE",
		"Hämäläinen":             "HAEMAELAEINEN",
		"ERIKSSON":               "ERIKSSON",
		"'quote":                 "QUOTE",
		"end'":                   "END",
		"o' brien":               "O<BRIEN",
		"a--b":                   "A<B",
		"":                       "",
		"Ñandú":                  "NANDU",
		"N\u0303":                "N",
		"Seán Ó Briain-Ní Dhúin": "SEAN<O<BRIAIN<NI<DHUIN",
	} {
		got, err := Transliterate(in)
		if err != nil || got != want {
			t.Errorf("Transliterate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Иванов", "Ελένη", "Nguyễn", "\u0301a", "a1", "a_b", "Ə"} {
		if got, err := Transliterate(in); !errors.Is(err, ErrTransliteration) {
			t.Errorf("Transliterate(%q) = %q, %v; want ErrTransliteration", in, got, err)
		}
	}
}

// holder builds a TD3 MRZ for a name field, born 1974-08-12, of UTO.
func holder(t *testing.T, field string) *MRZ {
	t.Helper()
	if len(field) > 39 {
		t.Fatalf("name field of %d characters", len(field))
	}
	m, err := ParseAt(mrzTD3(td3Name("UTO", field), "L898902C3", "UTO", "740812", "F", "300415", ""), now)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchHolder(t *testing.T) {
	born := date(1974, 8, 12)
	for _, c := range []struct {
		field, surname, given, nationality string
	}{
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria", "UTO"},
		{"ERIKSSON<<ANNA<MARIA", "ERIKSSON", "anna-maria", ""},
		{"OERSTED<<KAREN<MARIE", "Ørsted", "Karen Marie", "UTO"},
		{"ORSTED<<KAREN<MARIE", "Ørsted", "Karen Marie", ""},
		{"MUELLER<<JOERG", "Müller", "Jörg", ""},
		{"MULLER<<JORG", "Müller", "Jörg", ""},
		{"MUXXLLER<<JORG", "Müller", "Jörg", ""},
		{"MUELLER<<JORG", "Mu\u0308ller", "Jörg", ""},
		{"AASE<<ANNE", "Åse", "Anne", ""},
		{"ASE<<ANNE", "Åse", "Anne", ""},
		{"NUNEZ<<JOSE", "Núñez", "José", ""},
		{"NUNXXEZ<<JOSE", "Núñez", "José", ""},
		{"ONEILL<<SEAN", "O'Neill", "Seán", ""},
		{"O<NEILL<<SEAN", "O'Neill", "Seán", ""},
		{"VAN<DER<BERG<<JAN", "van der Berg", "Jan", ""},
		{"STRASSE<<ERIKA", "Straße", "Erika", ""},
		{"MADONNA", "Madonna", "", ""},
		// Truncated (the field is full, its last position a letter):
		// components cut, even to initials, and the last ones dropped.
		{"NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K", "Nilavadhanananda", "Chayapa Dejthamrong Krasuang", ""},
		{"NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K", "Nilavadhanananda", "Chayapa Dejthamrong Krasuang Wiset", ""},
		{"NILAVADHANANANDA<<C<DEJTHAMRONG<KRASUAN", "Nilavadhanananda", "Chayapa Dejthamrong Krasuang", ""},
		{"GRUENEWALD<OBERHAUSER<MU<SCHMIDT<<WOLFG", "Grünewald-Oberhauser-Müller-Schmidt", "Wolfgang", ""},
		{"GRUENEWALD<OBERHAUSER<MUE<SCHMIDT<<WOLF", "Grünewald-Oberhauser-Müller-Schmidt", "Wolfgang", ""},
		{"GRUENEWALD<OBERHAUSER<MUELLER<SCHMIDTXY", "Grünewald-Oberhauser-Müller-Schmidtxyz", "Wolfgang", ""},
	} {
		t.Run(c.field, func(t *testing.T) {
			if err := MatchHolder(holder(t, c.field), c.surname, c.given, born, c.nationality); err != nil {
				t.Errorf("%s vs %q, %q: %v", c.field, c.surname, c.given, err)
			}
		})
	}
}

func TestMatchHolderMismatch(t *testing.T) {
	born := date(1974, 8, 12)
	for _, c := range []struct {
		field, surname, given string
		birth                 time.Time
		nationality           string
		want                  []string
	}{
		{"ERIKSSON<<ANNA<MARIA", "Erikson", "Anna Maria", born, "", []string{AttributeSurname}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria Louise", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Maria Anna", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON", "Eriksson", "Anna", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson Anna", "Maria", born, "", []string{AttributeSurname, AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria", date(1974, 8, 13), "", []string{AttributeDateOfBirth}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria", time.Time{}, "", []string{AttributeDateOfBirth}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria", born, "DNK", []string{AttributeNationality}},
		{"ERIKSSON<<ANNA<MARIA", "Eriksson", "Anna Maria", born, "UTOX", []string{AttributeNationality}},
		{"ERIKSSON<<ANNA<MARIA", "Ørsted", "Karen", date(1985, 4, 17), "DNK",
			[]string{AttributeSurname, AttributeGivenNames, AttributeDateOfBirth, AttributeNationality}},
		// Not full, so not truncated: no prefixes.
		{"MUELLER<<J", "Müller", "Jörg", born, "", []string{AttributeGivenNames}},
		{"MUELL<<JOERG", "Müller", "Jörg", born, "", []string{AttributeSurname}},
		{"MUELER<<JOERG", "Müller", "Jörg", born, "", []string{AttributeSurname}},
		{"MUEXXLLER<<JOERG", "Müller", "Jörg", born, "", []string{AttributeSurname}},
		// Full, but the prefix is not one.
		{"NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<X", "Nilavadhanananda", "Chayapa Dejthamrong Krasuang", born, "", []string{AttributeGivenNames}},
		{"NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K", "Nilavadhanananda", "Chayapa Dejthamrong", born, "", []string{AttributeGivenNames}},
		{"NILAVADHANANANDA<<CHAYAPA<DEJTHAMRONG<K", "Nilavadhananand", "Chayapa Dejthamrong Krasuang", born, "", []string{AttributeSurname}},
		{"NILAVADHANANANDA<<DEJTHAMRONG<CHAYAPA<K", "Nilavadhanananda", "Chayapa Dejthamrong Krasuang", born, "", []string{AttributeGivenNames}},
		{"ERIKSSON<<ANNA<MARIA", ".", "Anna Maria", born, "", []string{AttributeSurname}},
	} {
		t.Run(c.field+" "+c.surname, func(t *testing.T) {
			err := MatchHolder(holder(t, c.field), c.surname, c.given, c.birth, c.nationality)
			var me *MismatchError
			if !errors.As(err, &me) || !errors.Is(err, ErrHolderMismatch) {
				t.Fatalf("got %v, want a MismatchError", err)
			}
			if !reflect.DeepEqual(me.Attributes, c.want) {
				t.Errorf("mismatched %q, want %q", me.Attributes, c.want)
			}
			for _, personal := range []string{"ERIKSSON", "Eriksson", "ANNA", "Anna", "MUELLER", "1974", "740812", "UTO", "DNK"} {
				if strings.Contains(err.Error(), personal) {
					t.Errorf("the error %q names the holder", err)
				}
			}
		})
	}
}

func TestMatchHolderOther(t *testing.T) {
	born := date(1974, 8, 12)
	// Germany is D, stored as D<< (or given as D).
	m, err := ParseAt(mrzTD3(td3Name("D<<", "MUSTERMANN<<ERIKA"), "C11T002JM", "D<<", "740812", "F", "300415", ""), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"D", "D<<", ""} {
		if err := MatchHolder(m, "Mustermann", "Erika", born, n); err != nil {
			t.Errorf("nationality %q: %v", n, err)
		}
	}
	if err := MatchHolder(m, "Mustermann", "Erika", born, "DEU"); !errors.Is(err, ErrHolderMismatch) {
		t.Errorf("DEU for D<<: %v", err)
	}
	// A date of birth the MRZ does not give in full matches nothing.
	m, err = ParseAt(mrzTD3(td3Line1, "L898902C3", "UTO", "7408<<", "F", "300415", ""), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := MatchHolder(m, "Eriksson", "Anna Maria", born, ""); !errors.Is(err, ErrHolderMismatch) {
		t.Errorf("a partial date of birth: %v", err)
	}
	// A name that cannot be transliterated is not a mismatch.
	err = MatchHolder(holder(t, "IVANOV<<IVAN"), "Иванов", "Иван", born, "")
	if !errors.Is(err, ErrTransliteration) || errors.Is(err, ErrHolderMismatch) {
		t.Errorf("Cyrillic: %v", err)
	}
	if err := MatchHolder(nil, "A", "B", born, ""); err == nil {
		t.Error("a nil MRZ matched")
	}
	// A TD1 card's 30-character name field, truncated.
	td1, err := ParseAt(td1Line1+td1Line2+"ERIKSSON<<ANNA<MARIA<LOUISE<CH", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := MatchHolder(td1, "Eriksson", "Anna Maria Louise Charlotte", born, "UTO"); err != nil {
		t.Errorf("TD1 truncated: %v", err)
	}
}
