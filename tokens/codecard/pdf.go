package codecard

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-pdf/fpdf"
)

// Pair is one printed key number and its code.
type Pair struct{ Key, Code string }

// PDF renders a card for printing: serial, holder, and the pairs (sorted
// by key number) down four columns of 37, in a monospaced font so that
// pdftotext reads every pair back as "KEY CODE".
func PDF(serial, holder string, pairs []Pair) ([]byte, error) {
	if err := CheckSerial(serial); err != nil {
		return nil, err
	}
	if len(pairs) != Entries {
		return nil, fmt.Errorf("codecard: %d pairs, a card has %d", len(pairs), Entries)
	}
	for i := 1; i < len(pairs); i++ {
		if pairs[i-1].Key >= pairs[i].Key {
			return nil, errors.New("codecard: pairs must be sorted by key number, without repeats")
		}
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Segl code card "+serial, true)
	pdf.SetCreator("segl", true)
	pdf.AddPage()
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: the core fonts' encoding
	pdf.SetFont("Courier", "B", 14)
	pdf.CellFormat(0, 8, "Code card "+serial, "", 1, "L", false, 0, "")
	pdf.SetFont("Courier", "", 11)
	pdf.CellFormat(0, 6, tr(holder), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 6, "Keep this card to yourself. Nobody from the bank will ever ask for a code.", "", 1, "L", false, 0, "")
	pdf.Ln(4)
	const rows, cols = 37, 4
	pdf.SetFont("Courier", "", 10)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := c*rows + r
			text := ""
			if i < len(pairs) {
				text = pairs[i].Key + " " + pairs[i].Code
			}
			pdf.CellFormat(45, 6, text, "1", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, fmt.Errorf("codecard: render PDF: %w", err)
	}
	return b.Bytes(), nil
}
