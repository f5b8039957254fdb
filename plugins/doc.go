// Package plugins will hold the go-plugin contracts, the plugin host and
// the issuer adapters for SMS gateways and document verification, each
// running as its own process (DESIGN.md).
//
// Nothing is here yet. See the README's status table.
package plugins
