package factors

import (
	"fmt"
	"testing"
)

// FuzzChallenges: the stored challenges the factors decode never panic,
// and what they accept is in range and has exactly one spelling.
func FuzzChallenges(f *testing.F) {
	for _, s := range []string{"codecard:4711000042:17", "dlcode:1795000000:3", "codecard::", "dlcode:0:-1", "codecard:4711000042:017"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if serial, idx, ok := parseChallenge(s); ok {
			if idx < 0 || idx >= 148 || fmt.Sprintf("codecard:%s:%d", serial, idx) != s {
				t.Fatalf("%q accepted as %s entry %d", s, serial, idx)
			}
		}
		if at, n, ok := parseDLChallenge(s); ok {
			if at < 0 || n < 0 || fmt.Sprintf("dlcode:%d:%d", at, n) != s {
				t.Fatalf("%q accepted as %d, %d attempts", s, at, n)
			}
		}
	})
}
