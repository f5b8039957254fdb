-- Hardware OTP tokens (issue 4). The seed is a wrapped key: ciphertext
-- under the KEK, useless without the HSM.

CREATE TABLE otp_tokens (
	serial        TEXT PRIMARY KEY,
	kind          TEXT NOT NULL CHECK (kind IN ('hotp', 'totp')),
	hash          TEXT NOT NULL CHECK (hash IN ('sha1', 'sha256', 'sha512')),
	digits        INTEGER NOT NULL CHECK (digits IN (6, 8)),
	step          INTEGER NOT NULL DEFAULT 0,
	seed          BLOB NOT NULL,
	user_id       TEXT NOT NULL DEFAULT '',
	-- HOTP: the next counter a code may use; TOTP: the last time step used
	-- (-1 before the first). Only ever moves forward (see UseOTP).
	counter       INTEGER NOT NULL DEFAULT 0,
	drift         INTEGER NOT NULL DEFAULT 0,
	failures      INTEGER NOT NULL DEFAULT 0,
	blocks        INTEGER NOT NULL DEFAULT 0,
	blocked_until INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL
) STRICT;

CREATE INDEX otp_tokens_user ON otp_tokens (user_id) WHERE user_id != '';
