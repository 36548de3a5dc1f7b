-- 006_encounters: the second demo resource, of another shape than
-- pxcodes: an identity key the database generates, a foreign key to a
-- small table of clinics, a date, an exact numeric amount that may not be
-- negative, a boolean with a default, a nullable note and a timestamp the
-- database fills in.  `starterctl load-demo` fills it with synthetic
-- rows; the sample configuration serves it as `encounters`.
--
-- The pxcode of an encounter is plain text, with no foreign key to
-- starter_pxcodes: a reference to it would make PostgreSQL refuse
-- `TRUNCATE starter_pxcodes` (even with no encounter at all), which the
-- original table's users, and its tests, do.  The foreign key goes to
-- starter_clinics, a table of the demo alone.

-- The clinics: five fixed rows, made here since nothing else loads them
-- (no resource serves the table; a foreign key error names it).
CREATE TABLE IF NOT EXISTS starter_clinics (
	id		smallint PRIMARY KEY,
	name		varchar(80) NOT NULL UNIQUE
);

INSERT INTO starter_clinics (id, name) VALUES
	(1, 'Northgate Family Practice'),
	(2, 'Riverside Day Surgery'),
	(3, 'St. Anne''s Outpatient Clinic'),
	(4, 'Hillcrest Imaging Centre'),
	(5, 'Harbour Street Walk-in Clinic')
	ON CONFLICT DO NOTHING;

DROP TRIGGER IF EXISTS starterd_notify_clinics ON starter_clinics;
CREATE TRIGGER starterd_notify_clinics
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_clinics
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();

CREATE TABLE IF NOT EXISTS starter_encounters (
	id		integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pxcode		varchar(10) NOT NULL,
	clinic_id	smallint NOT NULL
			    REFERENCES starter_clinics (id),
	seen_on		date NOT NULL,
	charge		numeric(10,2) NOT NULL CHECK (charge >= 0),
	paid		boolean NOT NULL DEFAULT false,
	note		text NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- The foreign key's lookups from clinics (a delete, a new id) would
-- otherwise read every encounter.
CREATE INDEX IF NOT EXISTS starter_encounters_clinic_id
	ON starter_encounters (clinic_id);

DROP TRIGGER IF EXISTS starterd_notify_encounters ON starter_encounters;
CREATE TRIGGER starterd_notify_encounters
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_encounters
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();
