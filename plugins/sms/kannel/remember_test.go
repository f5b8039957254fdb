package kannel

import (
	"fmt"
	"testing"
	"time"
)

func TestRememberIsBounded(t *testing.T) {
	k := New()
	start := time.Now()
	for i := range rememberSent + 50 {
		k.remember(fmt.Sprint(i), start.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(k.sent); n != rememberSent {
		t.Fatalf("%d keys kept; want at most %d", n, rememberSent)
	}
	if _, ok := k.sent["0"]; ok {
		t.Error("the oldest key is kept past the bound")
	}
	if _, ok := k.sent[fmt.Sprint(rememberSent+49)]; !ok {
		t.Error("the newest key is forgotten")
	}
	// Once full, a send an hour later forgets everything older.
	k.remember("late", start.Add(2*rememberFor))
	if n := len(k.sent); n != 1 {
		t.Errorf("%d keys kept an hour on; want only the new one", n)
	}
}
