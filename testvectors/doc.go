// Package testvectors will hold the published test vectors (JSON files
// with their provenance) and their loader, which auditors replay against a
// live HSM with `segl vectors verify` (DESIGN.md, "Vector files").
//
// Nothing is here yet. See the README's status table.
package testvectors
