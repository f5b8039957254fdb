// Package plugins is the parent of segld's plugin platform: issuers'
// adapters that run as processes of their own (hashicorp/go-plugin over
// gRPC with mutual TLS). host launches and watches them (pinned SHA-256,
// restarts with backoff, a breaker, health checks, every process ended on
// stop); each contract has a package of its own with its protobuf, its
// handshake and version, its Go interface and both gRPC adapters: sms
// (SMS gateways; the outbox adapter for development). The Kannel adapter,
// document verification and the 3-D Secure flow through them are still to
// come (see the README's status table).
package plugins
