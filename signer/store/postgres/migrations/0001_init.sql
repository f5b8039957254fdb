-- The schema of SQLite's migrations 0001 to 0011, at once, in
-- PostgreSQL's types: times are BIGINT nanoseconds since 1970 (0 for
-- none), as in SQLite, so that the one set of queries (store/sqlstore)
-- runs on both; flags that are read back are BOOLEAN.

CREATE TABLE users (
	id                   TEXT PRIMARY KEY,
	name                 TEXT NOT NULL,
	phone                TEXT NOT NULL DEFAULT '',
	disabled             BOOLEAN NOT NULL DEFAULT FALSE,
	created              BIGINT NOT NULL,
	password             TEXT NOT NULL DEFAULT '',
	failures             BIGINT NOT NULL DEFAULT 0,
	blocks               BIGINT NOT NULL DEFAULT 0,
	blocked_until        BIGINT NOT NULL DEFAULT 0,
	signing_key          BYTEA NOT NULL,
	certificate          BYTEA NOT NULL,
	identity_surname     TEXT NOT NULL DEFAULT '',
	identity_given_names TEXT NOT NULL DEFAULT '',
	identity_birth       TEXT NOT NULL DEFAULT '',
	identity_nationality TEXT NOT NULL DEFAULT ''
);

CREATE TABLE callers (
	fingerprint TEXT PRIMARY KEY,
	role        TEXT NOT NULL CHECK (role IN ('rp', 'officer')),
	id          TEXT NOT NULL,
	name        TEXT NOT NULL,
	cert_pem    BYTEA NOT NULL DEFAULT ''::bytea,
	disabled    BOOLEAN NOT NULL DEFAULT FALSE,
	created     BIGINT NOT NULL,
	UNIQUE (role, id)
);

CREATE TABLE orders (
	ref               TEXT PRIMARY KEY,
	rp                TEXT NOT NULL,
	user_id           TEXT NOT NULL DEFAULT '',
	kind              TEXT NOT NULL CHECK (kind IN ('auth', 'sign')),
	state             TEXT NOT NULL CHECK (state IN ('pending', 'failed', 'complete')),
	hint              TEXT NOT NULL DEFAULT '',
	user_visible_data TEXT NOT NULL DEFAULT '',
	document_digest   BYTEA,
	end_user_ip       TEXT NOT NULL,
	auto_start_token  TEXT NOT NULL UNIQUE,
	qr_start_token    TEXT NOT NULL UNIQUE,
	qr_start_secret   TEXT NOT NULL,
	created           BIGINT NOT NULL,
	expires           BIGINT NOT NULL,
	completed         BIGINT NOT NULL DEFAULT 0,
	factors           TEXT NOT NULL DEFAULT '[]',
	completion        BYTEA,
	challenge         TEXT NOT NULL DEFAULT '',
	payment           TEXT NOT NULL DEFAULT '',
	enrolled          BIGINT NOT NULL DEFAULT 0,
	purpose           TEXT NOT NULL DEFAULT '' CHECK (purpose IN ('', 'activation')),
	device_id         TEXT NOT NULL DEFAULT '',
	app_challenge     TEXT NOT NULL DEFAULT '',
	user_verification TEXT NOT NULL DEFAULT '',
	requires_document BOOLEAN NOT NULL DEFAULT FALSE
);
-- One pending order per user: the rule CreateOrder and BindOrder rely on.
CREATE UNIQUE INDEX orders_one_pending_per_user ON orders (user_id)
	WHERE state = 'pending' AND user_id != '' AND purpose = '';
CREATE INDEX orders_pending_expiry ON orders (expires) WHERE state = 'pending';
CREATE INDEX orders_pending_user ON orders (user_id) WHERE state = 'pending';

CREATE TABLE activations (
	id        TEXT PRIMARY KEY,
	order_ref TEXT NOT NULL REFERENCES orders (ref),
	user_id   TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	digest    BYTEA NOT NULL,
	expires   BIGINT NOT NULL,
	mac       BYTEA NOT NULL,
	spent     BIGINT NOT NULL DEFAULT 0,
	created   BIGINT NOT NULL
);

CREATE TABLE audit (
	seq     BIGINT PRIMARY KEY,
	time    BIGINT NOT NULL,
	event   TEXT NOT NULL,
	actor   TEXT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT '{}',
	hash    BYTEA NOT NULL
);

-- The chain's head, one row: every write transaction locks it first (FOR
-- UPDATE), so appends from several segld are serialised in the database
-- and each transaction reads the state the one before it committed.
CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO audit_head VALUES (1);

CREATE TABLE audit_checkpoints (
	seq       BIGINT PRIMARY KEY,
	hash      BYTEA NOT NULL,
	time      BIGINT NOT NULL,
	signature BYTEA NOT NULL
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE otp_tokens (
	serial        TEXT PRIMARY KEY,
	kind          TEXT NOT NULL CHECK (kind IN ('hotp', 'totp', 'yubico')),
	hash          TEXT NOT NULL CHECK (hash IN ('sha1', 'sha256', 'sha512', '')),
	digits        BIGINT NOT NULL CHECK (digits IN (0, 6, 8)),
	step          BIGINT NOT NULL DEFAULT 0,
	seed          BYTEA NOT NULL,
	user_id       TEXT NOT NULL DEFAULT '',
	-- HOTP: the next counter a code may use; TOTP: the last time step used;
	-- Yubico: the last position used (-1 before the first). Only ever moves
	-- forward (AdvanceOTP).
	counter       BIGINT NOT NULL DEFAULT 0,
	drift         BIGINT NOT NULL DEFAULT 0,
	failures      BIGINT NOT NULL DEFAULT 0,
	blocks        BIGINT NOT NULL DEFAULT 0,
	blocked_until BIGINT NOT NULL DEFAULT 0,
	created       BIGINT NOT NULL,
	public_id     TEXT NOT NULL DEFAULT '',
	private_id    TEXT NOT NULL DEFAULT '',
	CHECK ((kind = 'yubico') = (public_id != '' AND private_id != '' AND hash = '' AND digits = 0))
);
CREATE INDEX otp_tokens_user ON otp_tokens (user_id) WHERE user_id != '';
CREATE UNIQUE INDEX otp_tokens_public_id ON otp_tokens (public_id) WHERE public_id != '';

CREATE TABLE codecards (
	serial  TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	status  TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
	keys    TEXT NOT NULL, -- JSON array of the 148 key numbers, in entry order
	created BIGINT NOT NULL,
	printed BIGINT NOT NULL DEFAULT 0,
	offered BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX codecards_user ON codecards (user_id);

CREATE TABLE codecard_entries (
	serial TEXT NOT NULL REFERENCES codecards (serial),
	idx    BIGINT NOT NULL,
	spent  SMALLINT NOT NULL DEFAULT 0 CHECK (spent IN (0, 1)),
	PRIMARY KEY (serial, idx)
);

CREATE TABLE challenges (
	order_ref TEXT NOT NULL,
	user_id   TEXT NOT NULL,
	factor    TEXT NOT NULL,
	issued    BIGINT NOT NULL
);
CREATE INDEX challenges_order ON challenges (order_ref, factor);
CREATE INDEX challenges_user ON challenges (user_id, issued);
CREATE INDEX challenges_issued ON challenges (issued);

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
	created    BIGINT NOT NULL,
	updated    BIGINT NOT NULL
);
CREATE INDEX sms_attempts_user ON sms_attempts (user_id, created);
CREATE INDEX sms_attempts_order ON sms_attempts (order_ref);

CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id),
	name        TEXT NOT NULL,
	public_key  BYTEA NOT NULL UNIQUE, -- DER SubjectPublicKeyInfo, P-256
	key_storage TEXT NOT NULL CHECK (key_storage IN ('software', 'hardware')),
	biometry    TEXT NOT NULL CHECK (biometry IN ('none', 'fingerprint', 'face')),
	activation  TEXT NOT NULL, -- the activation order that made it
	created     BIGINT NOT NULL,
	last_used   BIGINT NOT NULL DEFAULT 0,
	revoked     BIGINT NOT NULL DEFAULT 0,
	revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE app_nonces (
	device_id TEXT NOT NULL,
	nonce     TEXT NOT NULL,
	seen      BIGINT NOT NULL,
	PRIMARY KEY (device_id, nonce)
);
CREATE INDEX app_nonces_seen ON app_nonces (seen);
