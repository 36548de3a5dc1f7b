-- 003_tokens: token revocation, the shared token key, rehash on login.
--
-- Every token carries its user's token_version ("ver").  Changing the
-- password hash bumps it, whoever does it (starterctl passwd, plain SQL),
-- so every token issued before no longer verifies; a deleted user has no
-- row, so its tokens fail as well.
--
-- The one exception is starterd's own re-hash after a successful login
-- (same password, stronger parameters): it goes through starterd_rehash(),
-- which marks its transaction so that the trigger leaves the version alone.
ALTER TABLE starter_users
	ADD COLUMN IF NOT EXISTS token_version integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION starterd_token_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.password_hash IS DISTINCT FROM OLD.password_hash AND
	    coalesce(current_setting('starterd.rehash', true), '') <> 'on' THEN
		NEW.token_version := OLD.token_version + 1;
	END IF;
	RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS starterd_token_version ON starter_users;
CREATE TRIGGER starterd_token_version
	BEFORE UPDATE ON starter_users
	FOR EACH ROW EXECUTE FUNCTION starterd_token_version();

-- Replace a hash by a stronger one of the same password, only if it is
-- still the hash that was verified (a concurrent passwd wins).  Returns
-- the number of rows changed.
CREATE OR REPLACE FUNCTION starterd_rehash(uid integer, newhash text,
    oldhash text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	PERFORM set_config('starterd.rehash', 'on', true);
	UPDATE starter_users SET password_hash = newhash
	    WHERE id = uid AND password_hash = oldhash;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('starterd.rehash', '', true);
	RETURN n;
END;
$$;

-- Secrets every instance must agree on: the token signing key when no
-- --token-key-file or STARTERD_TOKEN_KEY is given.  The first worker to
-- connect inserts a random key (INSERT ... ON CONFLICT DO NOTHING); all
-- others read that one.
CREATE TABLE IF NOT EXISTS starterd_secrets (
	name	text PRIMARY KEY,
	value	bytea NOT NULL
);
REVOKE ALL ON starterd_secrets FROM PUBLIC;
