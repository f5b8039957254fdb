package mrz

// latin is ICAO 9303 part 3 section 6's transliteration of multinational
// Latin-based characters, by upper-case letter: the recommended form
// first, then the others accepted. Lower-case letters are upper-cased
// before the look-up (ß, ĸ and ŉ have no upper case and are listed as
// they are).
var latin = map[rune][]string{
	// Latin-1 Supplement.
	'À': {"A"}, 'Á': {"A"}, 'Â': {"A"}, 'Ã': {"A"},
	'Ä': {"AE", "A"},
	'Å': {"AA", "A"},
	'Æ': {"AE"},
	'Ç': {"C"},
	'È': {"E"}, 'É': {"E"}, 'Ê': {"E"}, 'Ë': {"E"},
	'Ì': {"I"}, 'Í': {"I"}, 'Î': {"I"}, 'Ï': {"I"},
	'Ð': {"D"},
	'Ñ': {"N", "NXX"},
	'Ò': {"O"}, 'Ó': {"O"}, 'Ô': {"O"}, 'Õ': {"O"},
	'Ö': {"OE", "O"},
	'Ø': {"OE", "O"},
	'Ù': {"U"}, 'Ú': {"U"}, 'Û': {"U"},
	'Ü': {"UE", "U", "UXX"},
	'Ý': {"Y"},
	'Þ': {"TH"},
	'ß': {"SS"}, 'ẞ': {"SS"},
	'Ÿ': {"Y"},
	// Latin Extended-A.
	'Ā': {"A"}, 'Ă': {"A"}, 'Ą': {"A"},
	'Ć': {"C"}, 'Ĉ': {"C"}, 'Ċ': {"C"}, 'Č': {"C"},
	'Ď': {"D"}, 'Đ': {"D"},
	'Ē': {"E"}, 'Ĕ': {"E"}, 'Ė': {"E"}, 'Ę': {"E"}, 'Ě': {"E"},
	'Ĝ': {"G"}, 'Ğ': {"G"}, 'Ġ': {"G"}, 'Ģ': {"G"},
	'Ĥ': {"H"}, 'Ħ': {"H"},
	'Ĩ': {"I"}, 'Ī': {"I"}, 'Ĭ': {"I"}, 'Į': {"I"}, 'İ': {"I"},
	'Ĳ': {"IJ"},
	'Ĵ': {"J"},
	'Ķ': {"K"}, 'ĸ': {"K"},
	'Ĺ': {"L"}, 'Ļ': {"L"}, 'Ľ': {"L"}, 'Ŀ': {"L"}, 'Ł': {"L"},
	'Ń': {"N"}, 'Ņ': {"N"}, 'Ň': {"N"}, 'ŉ': {"N"}, 'Ŋ': {"N"},
	'Ō': {"O"}, 'Ŏ': {"O"}, 'Ő': {"O"},
	'Œ': {"OE"},
	'Ŕ': {"R"}, 'Ŗ': {"R"}, 'Ř': {"R"},
	'Ś': {"S"}, 'Ŝ': {"S"}, 'Ş': {"S"}, 'Š': {"S"},
	'Ţ': {"T"}, 'Ť': {"T"}, 'Ŧ': {"T"},
	'Ũ': {"U"}, 'Ū': {"U"}, 'Ŭ': {"U"}, 'Ů': {"U"}, 'Ű': {"U"}, 'Ų': {"U"},
	'Ŵ': {"W"},
	'Ŷ': {"Y"},
	'Ź': {"Z"}, 'Ż': {"Z"}, 'Ž': {"Z"},
	// Latin Extended-B: Romanian's comma below.
	'Ș': {"S"}, 'Ț': {"T"},
}

// compose maps a letter and a combining mark to the precomposed letter
// where the transliteration differs from the bare letter's; any other
// combining mark is dropped.
var compose = map[[2]rune]rune{
	{'A', '\u0308'}: 'Ä',
	{'O', '\u0308'}: 'Ö',
	{'U', '\u0308'}: 'Ü',
	{'A', '\u030A'}: 'Å',
	{'N', '\u0303'}: 'Ñ',
}
