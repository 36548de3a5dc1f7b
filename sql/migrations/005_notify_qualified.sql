-- 005_notify_qualified: the NOTIFY payload names the table with its
-- schema ("public.starter_pxcodes"), since a declared resource may be any
-- [schema.]table and two schemas may hold tables of the same name.
--
-- Same function name and signature: every trigger made by 002, 004 and
-- `starterctl resources install` sends the new form at once.  starterd
-- (data/channels.c) accepts both forms, so an instance older than this
-- migration is the only one that would miss a message.
CREATE OR REPLACE FUNCTION starterd_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('starterd', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
	RETURN NULL;
END;
$$;
