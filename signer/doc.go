// Package signer will be the daemon's core: orders and their state machine,
// users, devices, relying parties, the store, certificates, CMS and JWS
// output, the audit log and the mTLS API (DESIGN.md, "Flows").
//
// Nothing is here yet; segld today only holds the HSM connection and
// answers health probes. See the README's status table.
package signer
