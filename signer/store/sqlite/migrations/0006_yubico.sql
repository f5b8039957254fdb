-- Yubico OTP tokens join the OTP tokens. SQLite cannot change a CHECK, so
-- the table is rebuilt (https://sqlite.org/lang_altertable.html, "other
-- kinds of table schema changes"). A Yubico token's seed is its wrapped
-- AES key; hash and digits do not apply (''/0); counter is the last
-- accepted position, use counter << 8 | session counter (-1 before the
-- first); public_id is the modhex prefix its OTPs carry; private_id the
-- hex of the 6 bytes inside them.

CREATE TABLE otp_tokens_new (
	serial        TEXT PRIMARY KEY,
	kind          TEXT NOT NULL CHECK (kind IN ('hotp', 'totp', 'yubico')),
	hash          TEXT NOT NULL CHECK (hash IN ('sha1', 'sha256', 'sha512', '')),
	digits        INTEGER NOT NULL CHECK (digits IN (0, 6, 8)),
	step          INTEGER NOT NULL DEFAULT 0,
	seed          BLOB NOT NULL,
	user_id       TEXT NOT NULL DEFAULT '',
	counter       INTEGER NOT NULL DEFAULT 0,
	drift         INTEGER NOT NULL DEFAULT 0,
	failures      INTEGER NOT NULL DEFAULT 0,
	blocks        INTEGER NOT NULL DEFAULT 0,
	blocked_until INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	public_id     TEXT NOT NULL DEFAULT '',
	private_id    TEXT NOT NULL DEFAULT '',
	CHECK ((kind = 'yubico') = (public_id != '' AND private_id != '' AND hash = '' AND digits = 0))
) STRICT;

INSERT INTO otp_tokens_new (serial, kind, hash, digits, step, seed, user_id, counter, drift, failures, blocks, blocked_until, created)
	SELECT serial, kind, hash, digits, step, seed, user_id, counter, drift, failures, blocks, blocked_until, created FROM otp_tokens;
DROP TABLE otp_tokens;
ALTER TABLE otp_tokens_new RENAME TO otp_tokens;

CREATE INDEX otp_tokens_user ON otp_tokens (user_id) WHERE user_id != '';
CREATE UNIQUE INDEX otp_tokens_public_id ON otp_tokens (public_id) WHERE public_id != '';
