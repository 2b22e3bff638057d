-- Which build last rebuilt the crediting's open periods with its rules
-- (PostgreSQL has it since 0022, for its crediting leader): a start of the
-- same build skips the rebuild, which recomputes the whole open month from
-- its events and delayed every restart's crediting by seconds (growing
-- with the month). '' : rebuild at the next start.
ALTER TABLE credit_state ADD COLUMN rebuilt_by TEXT NOT NULL DEFAULT '';
