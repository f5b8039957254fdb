package orders

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

var currencySet = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(activeCurrencies) {
		m[c] = true
	}
	return m
}()

// ActiveCurrency reports whether code is a currency a payment may be in.
func ActiveCurrency(code string) bool { return currencySet[code] }
