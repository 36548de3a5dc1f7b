-- 007_query: what the query language of the collections (starterd(8),
-- QUERIES) needs of the database: the indexes behind the demo
-- declarations' q= and sort orders, and the planner's row estimate that a
-- count above count_threshold (or Prefer: count=estimated) reads.
--
-- pg_trgm comes with PostgreSQL (contrib) and is trusted since
-- PostgreSQL 13: a role with CREATE on the database (its owner) may
-- create it, superuser or not.  An installation where it is already there,
-- in whatever schema, is used as it is.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- q= matches ILIKE '%text%' over the search columns, which a b-tree
-- cannot serve and a trigram GIN index can (and the has. filter too).
-- pxcodes stays as the original declared it (no q=): its writes keep the
-- original's cost, with no GIN index to maintain.
-- The operator class is named in the extension's own schema, which need
-- not be on the search path.
DO $$
DECLARE
	ops	text;
BEGIN
	SELECT quote_ident(n.nspname) || '.gin_trgm_ops' INTO STRICT ops
	    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	    WHERE e.extname = 'pg_trgm';
	EXECUTE format('CREATE INDEX IF NOT EXISTS starter_encounters_note_trgm '
	    'ON starter_encounters USING gin (note %s)', ops);
END;
$$;

-- The sort orders the sample declares for encounters, each completed by
-- the key as every order is: a keyset page is then one index range scan
-- at any depth, in both directions (sort=-charge reads it backwards).
CREATE INDEX IF NOT EXISTS starter_encounters_seen_on_id
	ON starter_encounters (seen_on, id);
CREATE INDEX IF NOT EXISTS starter_encounters_charge_id
	ON starter_encounters (charge, id);

-- starterd_count_estimate(q, params): the planner's estimate of the rows
-- a count would find, without counting them.  q is the count's own
-- statement, "SELECT count(*) FROM ... WHERE ..." with $1..$n
-- placeholders, and params its values as text (NULL: SQL NULL), exactly
-- what would be sent to run it.
--
-- EXPLAIN takes no parameters, so each placeholder is replaced by its
-- value as a quoted literal, in one pass over q: a substituted value is
-- never scanned again (a value holding "$2" stays that text, and $1
-- cannot take the first digit of $10), and quoted identifiers and string
-- literals of q are copied as they are ("t$1" is a name, not a
-- placeholder).  A value is thus only ever a literal: whatever it holds,
-- it cannot end its quotes.
--
-- The answer is the Aggregate's input: for SELECT count(*) the top node
-- is the Aggregate, of one row; its outer child (not an InitPlan, which
-- EXPLAIN lists first) carries the estimate of the matching rows.  A
-- parallel plan would put a Gather there, of a row a worker, over scans
-- that count a worker's share: the function plans serially, so that the
-- child is the scan (or the Limit over it) whose Plan Rows is the total.
-- Any other top node's own Plan Rows is the answer.
--
-- SECURITY INVOKER: it plans with the caller's rights, on the caller's
-- tables.  VOLATILE, not STABLE: it runs a statement through EXECUTE.  No
-- SET search_path: q names its tables as the resource's other statements
-- do (a bare name through the caller's search path, as declared), so it
-- must resolve them as they are resolved; the body's own calls are
-- qualified with pg_catalog instead (and use no operator), so that no
-- schema of that path can stand in for them.
CREATE OR REPLACE FUNCTION starterd_count_estimate(q pg_catalog.text,
    params pg_catalog.text[]) RETURNS pg_catalog.int8
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET max_parallel_workers_per_gather = 0
AS $$
DECLARE
	stmt	pg_catalog.text;
	plan	pg_catalog.json;
	node	pg_catalog.json;
	child	pg_catalog.json;
BEGIN
	SELECT pg_catalog.string_agg(CASE
	    WHEN pg_catalog.textregexeq(t.tok[1], '^\$[0-9]+$')
	    THEN coalesce(pg_catalog.quote_literal(params[
		pg_catalog.substr(t.tok[1], 2)::pg_catalog.int4]), 'NULL')
	    ELSE t.tok[1] END, '' ORDER BY t.n)
	    INTO stmt
	    FROM pg_catalog.regexp_matches(q,
		'"[^"]*"|''[^'']*''|\$[0-9]+|[^"''$]+|.', 'g')
		WITH ORDINALITY AS t(tok, n);
	IF stmt IS NULL THEN
		RAISE EXCEPTION 'starterd_count_estimate: no statement';
	END IF;
	EXECUTE pg_catalog.concat('EXPLAIN (FORMAT JSON) ', stmt) INTO plan;
	node := pg_catalog.json_extract_path(plan, '0', 'Plan');
	IF pg_catalog.texteq(pg_catalog.json_extract_path_text(node,
	    'Node Type'), 'Aggregate') THEN
		SELECT p.c INTO child
		    FROM pg_catalog.json_array_elements(
			pg_catalog.json_extract_path(node, 'Plans'))
			WITH ORDINALITY AS p(c, i)
		    WHERE pg_catalog.texteq(pg_catalog.json_extract_path_text(
			p.c, 'Parent Relationship'), 'Outer')
		    ORDER BY p.i LIMIT 1;
		IF child IS NOT NULL THEN
			node := child;
		END IF;
	END IF;
	RETURN pg_catalog.json_extract_path_text(node,
	    'Plan Rows')::pg_catalog.numeric::pg_catalog.int8;
END;
$$;
