// Package mrz reads the machine readable zone of an ICAO 9303 travel
// document, as EF.DG1 of its chip holds it, and matches its holder against
// the identity attributes a user has stored.
//
// # Formats
//
// TD3 (passports, 2 × 44 characters, ICAO 9303 part 4), TD1 (identity
// cards, 3 × 30, part 5) and TD2 (2 × 36, part 6). Visas (MRV-A, MRV-B:
// document code V) have no composite check digit and are refused. Only
// A–Z, 0–9 and the filler < are accepted, anywhere.
//
// Every check digit is verified (weights 7, 3, 1; < counts 0, A–Z 10–35):
// document number, date of birth, date of expiry, the composite, and in
// TD3 the optional data's (which may be < or 0 when that field is all
// fillers). A document number longer than nine characters (TD1, part 5
// 4.2.4; TD2 likewise in part 6) has a filler in place of its check digit;
// the rest of the number and its check digit open the optional data field,
// followed by a filler. DocumentNumber is then the whole number.
//
// # Dates and their century
//
// The MRZ gives dates as YYMMDD. The century is decided against a
// reference time (ParseAt's now; Parse and ParseDG1 use the current time):
//
//   - date of birth: 20YY, unless that date is later than now, then 19YY.
//     A person more than 100 years old therefore reads 100 years too young;
//     MatchHolder compares the MRZ's own YYMMDD, so matching is not hurt.
//     Fillers in the day, or the day and month, or the whole field (a date
//     of birth not known in full, which ICAO 9303 part 3 allows) are accepted: DateOfBirth is then
//     zero, BirthDate keeps the MRZ's characters, and MatchHolder fails on
//     the date of birth.
//   - date of expiry: 20YY, unless that is more than 50 years after now's
//     year, then 19YY (no document is valid for 50 years; in 2026 that
//     maps 77–99 to 1977–1999, 00–76 to 2000–2076). Fillers are refused.
//
// Both must be calendar dates in the century chosen (000229 is a date of
// 2000, not of 1900).
//
// # Personal data
//
// An MRZ holds personal data. Errors never quote it: they name the field
// and the check, not the value. MRZ's String, GoString and LogValue print
// the format, the document code and the issuing state only, so a stray
// log line cannot leak a name or a document number.
//
// # Holder matching and transliteration
//
// MatchHolder transliterates the stored names to the MRZ's alphabet by
// ICAO 9303 part 3 section 6 (transliteration of multinational Latin-based
// characters), then compares. Where states differ in practice, more than
// one form is accepted; the first one is the table's recommendation:
//
//	Ä → AE or A       Å → AA or A       Æ → AE          Ð, Đ → D
//	Ö → OE or O       Ø → OE or O       Œ → OE          Þ → TH
//	Ü → UE, U or UXX  Ñ → N or NXX      ß, ẞ → SS       Ĳ → IJ
//
// (the XX forms are the older edition's marks of a national character).
// Every other letter of Latin-1 Supplement and Latin Extended-A, and Ș and
// Ț, becomes its base letter (É → E, Ł → L, Č → C, ı and İ → I, ŉ → N,
// ĸ → K). A–Z pass unchanged, lower case is upper-cased, and a base letter
// followed by combining marks is treated as the precomposed letter (U +
// U+0308 is Ü) or, for other marks, as the base letter. Spaces, hyphens
// and commas separate name components (<); apostrophes are omitted (O'Neill
// → ONEILL, also accepted as O<NEILL), full stops are omitted. Other
// scripts (Cyrillic, Greek, Arabic, …) and Latin letters outside those
// blocks are refused with ErrTransliteration: store the name as the
// document's Latin form (A–Z), which passes unchanged.
//
// The MRZ name field may have been truncated (part 3's truncation rules): when the field
// is full to its last position, which is then a letter, each component of
// the MRZ's name may be a prefix (at least one letter) of the stored
// component at its place, and trailing components may be missing. When the
// field ends in fillers the names must match exactly, component for
// component.
package mrz
