package mrz

import (
	"strings"
	"time"
)

// expiryWindow: an expiry's YY is 20YY unless that is more than this many
// years after the reference year.
const expiryWindow = 50

func digits2(s string) (int, bool) {
	if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// calendarDate is y-m-d when that is a date (no 31 April, 29 February
// only in leap years).
func calendarDate(y, m, d int) (time.Time, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t, t.Day() == d && int(t.Month()) == m
}

// birthDate reads a date of birth: YYMMDD, or with the day, the day and
// month, or everything unknown (fillers). It is 20YY unless that is later
// than now, then 19YY. A date not given in full is the zero time.
func birthDate(s string, now time.Time) (time.Time, error) {
	ty, tm, td := now.Date()
	today := time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)
	switch {
	case s == "<<<<<<":
		return time.Time{}, nil
	case strings.HasSuffix(s, "<<<<"):
		if _, ok := digits2(s[0:2]); !ok {
			return time.Time{}, malformed("the date of birth is not YYMMDD")
		}
		return time.Time{}, nil
	case strings.HasSuffix(s, "<<"):
		_, ok1 := digits2(s[0:2])
		mm, ok2 := digits2(s[2:4])
		if !ok1 || !ok2 || mm < 1 || mm > 12 {
			return time.Time{}, malformed("the date of birth is not YYMMDD")
		}
		return time.Time{}, nil
	}
	yy, ok1 := digits2(s[0:2])
	mm, ok2 := digits2(s[2:4])
	dd, ok3 := digits2(s[4:6])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, malformed("the date of birth is not YYMMDD")
	}
	y := 2000 + yy
	if t, ok := calendarDate(y, mm, dd); ok && t.After(today) {
		y = 1900 + yy
	}
	t, ok := calendarDate(y, mm, dd)
	if !ok {
		return time.Time{}, malformed("the date of birth is not a date")
	}
	return t, nil
}

// expiryDate reads a date of expiry, YYMMDD: 20YY unless that is more
// than expiryWindow years after now's year, then 19YY.
func expiryDate(s string, now time.Time) (time.Time, error) {
	yy, ok1 := digits2(s[0:2])
	mm, ok2 := digits2(s[2:4])
	dd, ok3 := digits2(s[4:6])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, malformed("the date of expiry is not YYMMDD")
	}
	y := 2000 + yy
	if y > now.Year()+expiryWindow {
		y = 1900 + yy
	}
	t, ok := calendarDate(y, mm, dd)
	if !ok {
		return time.Time{}, malformed("the date of expiry is not a date")
	}
	return t, nil
}
