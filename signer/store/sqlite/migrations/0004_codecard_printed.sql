-- When a code card was printed (0: not yet). A card the server issues by
-- itself, when the old one runs low, waits unprinted for an officer; it can
-- be printed once.
ALTER TABLE codecards ADD COLUMN printed INTEGER NOT NULL DEFAULT 0;
