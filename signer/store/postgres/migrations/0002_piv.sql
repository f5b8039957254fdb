-- YubiKey PIV cards (issue 15): a card enrolled to a user, or to an
-- officer (whose card signs approvals), its key made on the card and
-- proven so by the card's attestation, which is kept.
CREATE TABLE piv_cards (
	id           TEXT PRIMARY KEY,
	serial       BIGINT NOT NULL,      -- the card's serial, from its attestation
	user_id      TEXT REFERENCES users (id), -- the user's card, or NULL
	officer_id   TEXT,               -- the officer's card, or NULL (officers come and go with the config: no reference)
	slot         TEXT NOT NULL,      -- '9a', '9c', …
	public_key   BYTEA NOT NULL,      -- DER SubjectPublicKeyInfo
	certificate  BYTEA NOT NULL,      -- DER, the issuer's, written to the slot; empty for an officer's card
	attest_slot  BYTEA NOT NULL,      -- DER, the slot's attestation certificate
	attest_card  BYTEA NOT NULL,      -- DER, the card's attestation certificate (f9)
	firmware     TEXT NOT NULL,
	pin_policy   TEXT NOT NULL,
	touch_policy TEXT NOT NULL,
	form_factor  TEXT NOT NULL,
	created      BIGINT NOT NULL,
	created_by   TEXT NOT NULL,
	revoked      BIGINT NOT NULL DEFAULT 0,
	revoked_by   TEXT NOT NULL DEFAULT '',
	CHECK ((user_id IS NULL) <> (officer_id IS NULL))
);
-- A card is enrolled once at a time; a revoked card may be enrolled again.
CREATE UNIQUE INDEX piv_cards_live ON piv_cards (serial) WHERE revoked = 0;
CREATE INDEX piv_cards_user ON piv_cards (user_id);
CREATE INDEX piv_cards_officer ON piv_cards (officer_id);

-- The card whose signature passed an order's piv factor: its serial, and
-- ':pin' when its key signs only after the card's PIN.
ALTER TABLE orders ADD COLUMN piv_card TEXT NOT NULL DEFAULT '';
