-- A payment an order approves (PSD2 dynamic linking): JSON of amountMinor,
-- currency and payee, or '' for none.
ALTER TABLE orders ADD COLUMN payment TEXT NOT NULL DEFAULT '';
