-- 002_notify: tell every starterd instance when a table changes.
--
-- Statement-level triggers fire once per INSERT, UPDATE, DELETE, TRUNCATE
-- or COPY, whoever runs it (starterd, psql, a migration), and NOTIFY the
-- channel "starterd" with the table's name.  Each starterd worker LISTENs
-- on its connection and drops what it cached from that table: verified
-- credentials for starter_users, responses for starter_pxcodes.  NOTIFY is
-- transactional: nothing is sent for a rolled-back change, and the
-- notification goes out when the change is visible.
CREATE OR REPLACE FUNCTION starterd_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('starterd', TG_TABLE_NAME);
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS starterd_notify_pxcodes ON starter_pxcodes;
CREATE TRIGGER starterd_notify_pxcodes
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_pxcodes
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();

DROP TRIGGER IF EXISTS starterd_notify_users ON starter_users;
CREATE TRIGGER starterd_notify_users
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_users
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();
