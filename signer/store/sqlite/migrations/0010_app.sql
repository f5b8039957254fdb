-- The code app (issue 12): devices, their single-use request nonces, and
-- what orders need for the app. An activation is an order too (purpose
-- 'activation'), so that its password and code-card factors obey the one
-- set of factor rules; it does not hold the user's one pending order.
ALTER TABLE orders ADD COLUMN purpose TEXT NOT NULL DEFAULT '' CHECK (purpose IN ('', 'activation'));
-- The device an order is bound to (by a scan) or that approved it.
ALTER TABLE orders ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
-- The challenge an app approval must sign, '' until a device fetched the
-- order; 'spent:' and the challenge once an approval used it.
ALTER TABLE orders ADD COLUMN app_challenge TEXT NOT NULL DEFAULT '';
-- How the approving device's key was unlocked: '', 'pin' or 'biometric'.
ALTER TABLE orders ADD COLUMN user_verification TEXT NOT NULL DEFAULT '';

DROP INDEX orders_one_pending_per_user;
CREATE UNIQUE INDEX orders_one_pending_per_user ON orders (user_id)
	WHERE state = 'pending' AND user_id != '' AND purpose = '';
CREATE INDEX orders_pending_user ON orders (user_id) WHERE state = 'pending';

CREATE TABLE devices (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id),
	name        TEXT NOT NULL,
	public_key  BLOB NOT NULL UNIQUE, -- DER SubjectPublicKeyInfo, P-256
	key_storage TEXT NOT NULL CHECK (key_storage IN ('software', 'hardware')),
	biometry    TEXT NOT NULL CHECK (biometry IN ('none', 'fingerprint', 'face')),
	activation  TEXT NOT NULL, -- the activation order that made it
	created     INTEGER NOT NULL,
	last_used   INTEGER NOT NULL DEFAULT 0,
	revoked     INTEGER NOT NULL DEFAULT 0,
	revoked_by  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX devices_user ON devices (user_id);

-- A signed request's nonce, kept while its time is within the skew: a
-- replay inside the window meets its row.
CREATE TABLE app_nonces (
	device_id TEXT NOT NULL,
	nonce     TEXT NOT NULL,
	seen      INTEGER NOT NULL,
	PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX app_nonces_seen ON app_nonces (seen);
