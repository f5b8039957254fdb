-- SMS (issue 11). Each attempt to send a message through one adapter is a
-- row: the message (one code) may take several, one per adapter tried.
-- Never the text or the code: only where it went (masked) and how it went.

CREATE TABLE sms_attempts (
	id         TEXT PRIMARY KEY,   -- segld's id of the attempt: the gateway's idempotency key
	message    TEXT NOT NULL,      -- the message (one code) it is an attempt at
	order_ref  TEXT NOT NULL DEFAULT '',
	user_id    TEXT NOT NULL,
	to_masked  TEXT NOT NULL,
	adapter    TEXT NOT NULL,
	gateway_id TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL CHECK (state IN ('sending', 'accepted', 'delivered', 'failed', 'unknown')),
	reason     TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
) STRICT;

CREATE INDEX sms_attempts_user ON sms_attempts (user_id, created);
CREATE INDEX sms_attempts_order ON sms_attempts (order_ref);
