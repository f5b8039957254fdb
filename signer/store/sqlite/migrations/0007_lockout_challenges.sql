-- Hardening (issue 9). Users count their blocks, as tokens do; a code
-- card remembers the entry a challenge showed until it is answered, so a
-- caller who asks again sees the same key number; and every challenge
-- issued is noted, for the limits per order and per user per hour.

ALTER TABLE users ADD COLUMN blocks INTEGER NOT NULL DEFAULT 0;

ALTER TABLE codecards ADD COLUMN offered INTEGER NOT NULL DEFAULT -1;

CREATE TABLE challenges (
	order_ref TEXT NOT NULL,
	user_id   TEXT NOT NULL,
	factor    TEXT NOT NULL,
	issued    INTEGER NOT NULL
) STRICT;

CREATE INDEX challenges_order ON challenges (order_ref, factor);
CREATE INDEX challenges_user ON challenges (user_id, issued);
