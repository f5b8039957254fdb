// Package signer is the parent of the daemon's core, one package each:
// orders (the state machine), factors (every factor and the rules they
// obey), store and store/sqlite, audit, activation, admin, api (the mTLS
// HTTP API), ca, cms, jws, qr, config, clock, errs, strictjson, and daemon,
// which assembles them into segld (DESIGN.md, "Flows").
package signer
