-- Segl's first schema. Times are Unix nanoseconds (UTC); 0 means unset.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	phone         TEXT NOT NULL DEFAULT '',
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	password      TEXT NOT NULL DEFAULT '',
	failures      INTEGER NOT NULL DEFAULT 0,
	blocked_until INTEGER NOT NULL DEFAULT 0,
	signing_key   BLOB NOT NULL,
	certificate   BLOB NOT NULL
) STRICT;

CREATE TABLE callers (
	fingerprint TEXT PRIMARY KEY,
	role        TEXT NOT NULL CHECK (role IN ('rp', 'officer')),
	id          TEXT NOT NULL,
	name        TEXT NOT NULL,
	cert_pem    BLOB NOT NULL DEFAULT x'',
	disabled    INTEGER NOT NULL DEFAULT 0,
	created     INTEGER NOT NULL,
	UNIQUE (role, id)
) STRICT;

CREATE TABLE orders (
	ref               TEXT PRIMARY KEY,
	rp                TEXT NOT NULL,
	user_id           TEXT NOT NULL DEFAULT '',
	kind              TEXT NOT NULL CHECK (kind IN ('auth', 'sign')),
	state             TEXT NOT NULL CHECK (state IN ('pending', 'failed', 'complete')),
	hint              TEXT NOT NULL DEFAULT '',
	user_visible_data TEXT NOT NULL DEFAULT '',
	document_digest   BLOB,
	end_user_ip       TEXT NOT NULL,
	auto_start_token  TEXT NOT NULL UNIQUE,
	qr_start_token    TEXT NOT NULL UNIQUE,
	qr_start_secret   TEXT NOT NULL,
	created           INTEGER NOT NULL,
	expires           INTEGER NOT NULL,
	completed         INTEGER NOT NULL DEFAULT 0,
	factors           TEXT NOT NULL DEFAULT '[]',
	completion        BLOB
) STRICT;

-- One pending order per user: the database, not a read-then-write check,
-- is what makes a second concurrent start fail.
CREATE UNIQUE INDEX orders_one_pending_per_user ON orders (user_id)
	WHERE state = 'pending' AND user_id != '';
CREATE INDEX orders_pending_expiry ON orders (expires) WHERE state = 'pending';

CREATE TABLE activations (
	id       TEXT PRIMARY KEY,
	order_ref TEXT NOT NULL REFERENCES orders (ref),
	user_id  TEXT NOT NULL,
	key_id   TEXT NOT NULL,
	digest   BLOB NOT NULL,
	expires  INTEGER NOT NULL,
	mac      BLOB NOT NULL,
	spent    INTEGER NOT NULL DEFAULT 0,
	created  INTEGER NOT NULL
) STRICT;

CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	event   TEXT NOT NULL,
	actor   TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT '{}',
	hash    BLOB NOT NULL
) STRICT;

CREATE TABLE audit_checkpoints (
	seq       INTEGER PRIMARY KEY,
	hash      BLOB NOT NULL,
	time      INTEGER NOT NULL,
	signature BLOB NOT NULL
) STRICT;

-- The audit log is append-only: the database refuses to change or delete
-- a record through SQL. (Someone with the file can still edit it; the hash
-- chain and the signed checkpoints are what catch that.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
