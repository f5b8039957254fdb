package smsgate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/tokens/dlcode"
)

// Template is the text of a code in one language: for a payment, with its
// amount and payee (what PSD2 RTS art. 5 wants the payer to see), and for
// any other order.
type Template struct {
	Payment string
	Login   string
}

// DefaultTemplates are the shipped texts.
var DefaultTemplates = map[string]Template{
	"en": {
		Payment: "Code {code} for {amount} at {payee}. Valid {minutes} min. Never share it.",
		Login:   "Code {code} to log in to {issuer}. Valid {minutes} min. Never share it.",
	},
	"da": {
		Payment: "Kode {code} til {amount} hos {payee}. Gyldig {minutes} min. Del den aldrig.",
		Login:   "Kode {code} til log ind hos {issuer}. Gyldig {minutes} min. Del den aldrig.",
	},
}

// decimal separators by language; "." elsewhere.
var decimalSep = map[string]string{"da": ","}

var placeholder = regexp.MustCompile(`\{[a-z]*\}`)

// CheckTemplate refuses a template that would not tell the user what it
// must: the code always, and a payment's amount and payee.
func CheckTemplate(t string, payment bool) error {
	need := []string{"{code}"}
	allowed := map[string]bool{"{code}": true, "{minutes}": true, "{issuer}": true}
	if payment {
		need = append(need, "{amount}", "{payee}")
		allowed["{amount}"], allowed["{payee}"] = true, true
	}
	for _, n := range need {
		if !strings.Contains(t, n) {
			return fmt.Errorf("%q has no %s", t, n)
		}
	}
	for _, p := range placeholder.FindAllString(t, -1) {
		if !allowed[p] {
			return fmt.Errorf("%q has %s, which is not one of %s", t, p, names(allowed))
		}
	}
	return nil
}

func names(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// Texts renders the SMS of a code.
type Texts struct {
	Templates map[string]Template // by language; DefaultTemplates when nil
	Language  string              // the language used; default "en"
	Issuer    string              // {issuer}
	Minutes   int                 // {minutes}: how long a code is valid
	Digits    int                 // the codes' length
}

func (t Texts) template() (Template, string) {
	lang := t.Language
	if lang == "" {
		lang = "en"
	}
	ts := t.Templates
	if ts == nil {
		ts = DefaultTemplates
	}
	return ts[lang], lang
}

// Render is the text of code for a payment (nil for another order).
func (t Texts) Render(code string, p *dlcode.Payment) string {
	tmpl, lang := t.template()
	text := tmpl.Login
	r := []string{"{code}", code, "{minutes}", fmt.Sprint(t.Minutes), "{issuer}", t.Issuer}
	if p != nil && p.AmountMinor != "" {
		text = tmpl.Payment
		sep := decimalSep[lang]
		if sep == "" {
			sep = "."
		}
		r = append(r, "{amount}", p.Currency+" "+dlcode.FormatAmount(p.AmountMinor, p.Currency, sep), "{payee}", p.Payee)
	}
	return strings.NewReplacer(r...).Replace(text)
}

// CheckPayment refuses, at an order's start, a payment whose SMS would
// not fit in one message: it depends on the payee's length and letters,
// and the amount's.
func (t Texts) CheckPayment(p dlcode.Payment) error {
	text := t.Render(strings.Repeat("0", max(t.Digits, 6)), &p)
	if _, err := sms.Fit(text); err != nil {
		return errs.Invalid("payment.payee: %q is too long for the SMS that shows the code with this amount and payee (%v); give a shorter payee", p.Payee, err)
	}
	return nil
}
