-- Self-service enrolment (issue 11): a completed auth order may be used
-- once, soon after, to change the user's mobile number or password. When
-- it was: 0 for never.
ALTER TABLE orders ADD COLUMN enrolled INTEGER NOT NULL DEFAULT 0;
