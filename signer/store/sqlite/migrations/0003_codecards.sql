-- NemID-style code cards (issue 4). Only the serial, the key numbers and
-- which entries are spent are stored: codes are recomputed in the HSM.

CREATE TABLE codecards (
	serial  TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	status  TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
	keys    TEXT NOT NULL, -- JSON array of the 148 key numbers, in entry order
	created INTEGER NOT NULL
) STRICT;

CREATE INDEX codecards_user ON codecards (user_id);

CREATE TABLE codecard_entries (
	serial TEXT NOT NULL REFERENCES codecards (serial),
	idx    INTEGER NOT NULL,
	spent  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (serial, idx)
) STRICT;

-- The challenge an order is waiting on, e.g. a code-card entry.
ALTER TABLE orders ADD COLUMN challenge TEXT NOT NULL DEFAULT '';
