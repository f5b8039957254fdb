//go:build drill

package main

import "testing"

// Issue 14's numbers, too long for make test: make drill runs them.

// One HOTP code from 256 connections at once over three daemons on one
// PostgreSQL, 1,000 rounds: exactly one acceptance each.
func TestDrillOTPRace1000Rounds(t *testing.T) {
	startCluster(t, 3).otpRace(256, 1000)
}

// 100 kill -9 of a daemon under load: the others keep serving, no
// code-card entry is accepted twice, every assertion a client received is
// audited, and the chain verifies.
func TestDrillKill9(t *testing.T) {
	killUnderLoad(t, startCluster(t, 3), 8, 100)
}
