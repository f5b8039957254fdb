-- Identity attributes (issue 13): what a passport's MRZ is matched
-- against. Names as the user writes them (the match transliterates);
-- birth as YYYY-MM-DD; nationality ICAO's three letters, or ''.
ALTER TABLE users ADD COLUMN identity_surname     TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN identity_given_names TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN identity_birth       TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN identity_nationality TEXT NOT NULL DEFAULT '';

-- Step-up (issue 13): the order needs a passport check besides its two
-- factors (its relying party asked, or its payment is large).
ALTER TABLE orders ADD COLUMN requires_document INTEGER NOT NULL DEFAULT 0;
