package dlcode

import "strings"

// activeCurrencies are the currencies of ISO 4217's list one that are money
// in circulation today (2026): not the funds codes (BOV, CHE, CHW, CLF,
// COU, MXV, USN, UYI, UYW), not the units that are not a currency (the
// metals XAU, XAG, XPD, XPT; XBA–XBD, XDR, XSU, XUA; the test code XTS
// and "no currency" XXX), and not those withdrawn (BGN on Bulgaria's move
// to the euro in 2026, ANG for XCG in 2025, ZWL for ZWG in 2024, SLL for
// SLE, HRK, CUC and older). Kept by hand: update it when ISO 4217's
// maintenance agency publishes an amendment.
const activeCurrencies = `
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD
BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS
INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR
LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN
NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
ZAR ZMW ZWG
`

// minorUnits are ISO 4217's minor units of the currencies that do not
// have 2.
var minorUnits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

var currencySet = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(activeCurrencies) {
		m[c] = true
	}
	return m
}()

// ActiveCurrency reports whether code is a currency a payment may be in.
func ActiveCurrency(code string) bool { return currencySet[code] }

// MinorUnits is how many decimals an amount in currency code has (ISO
// 4217: DKK 2, JPY 0, KWD 3).
func MinorUnits(code string) int {
	if n, ok := minorUnits[code]; ok {
		return n
	}
	return 2
}

// FormatAmount writes an amount given in minor units as the currency
// shows it, with sep between units and decimals: ("12995", "DKK", ".")
// is "129.95", ("500", "JPY", ".") "500", ("1500", "KWD", ",") "1,500".
func FormatAmount(minor, currency, sep string) string {
	d := MinorUnits(currency)
	if d == 0 {
		return minor
	}
	for len(minor) <= d {
		minor = "0" + minor
	}
	return minor[:len(minor)-d] + sep + minor[len(minor)-d:]
}
