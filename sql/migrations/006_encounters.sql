-- 006_encounters: the second demo resource, of another shape than
-- pxcodes: an identity key the database generates, a foreign key to
-- pxcodes (renaming a pxcode carries its encounters along), a date, an
-- exact numeric amount that may not be negative, a boolean with a
-- default, a nullable note and a timestamp the database fills in.
-- `starterctl load-demo` fills it with synthetic rows; the sample
-- configuration serves it as `encounters`.
CREATE TABLE IF NOT EXISTS starter_encounters (
	id		integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pxcode		varchar(10) NOT NULL
			    REFERENCES starter_pxcodes (pxcode)
			    ON UPDATE CASCADE,
	seen_on		date NOT NULL,
	charge		numeric(10,2) NOT NULL CHECK (charge >= 0),
	paid		boolean NOT NULL DEFAULT false,
	note		text NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- The foreign key's lookups from pxcodes (a rename, a delete) and the
-- encounters of one pxcode.
CREATE INDEX IF NOT EXISTS starter_encounters_pxcode
	ON starter_encounters (pxcode);

DROP TRIGGER IF EXISTS starterd_notify_encounters ON starter_encounters;
CREATE TRIGGER starterd_notify_encounters
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_encounters
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();
