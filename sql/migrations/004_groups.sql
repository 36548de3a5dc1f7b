-- 004_groups: named groups of users, for declarations that say
-- `read = group:NAME` or `write = group:NAME` (starterd.conf(5)).
--
-- A user is in a group when a row says so; `starterctl group add|del|list`
-- manages them.  The name is the declaration's, compared as written
-- (case matters).  Deleting a user takes its memberships with it.  The
-- statement trigger tells every starterd worker to forget the memberships
-- it remembered (data/channels.c), whoever changed them.
CREATE TABLE IF NOT EXISTS starter_user_groups (
	user_id		integer NOT NULL
			    REFERENCES starter_users (id) ON DELETE CASCADE,
	name		varchar(64) NOT NULL CHECK (name <> ''),
	PRIMARY KEY (user_id, name)
);

DROP TRIGGER IF EXISTS starterd_notify_user_groups ON starter_user_groups;
CREATE TRIGGER starterd_notify_user_groups
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON starter_user_groups
	FOR EACH STATEMENT EXECUTE FUNCTION starterd_notify();
