package sqlite_test

import (
	"testing"

	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/store/storetest"
)

// The store conformance suite, on SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := open(t)
		return db
	})
}
