-- 001_schema: the tables of the original Flask application.
--
-- IF NOT EXISTS lets a database created by the Flask app be adopted as is:
-- its tables already have this shape, and only the version is recorded.

CREATE TABLE IF NOT EXISTS starter_pxcodes (
	id		serial PRIMARY KEY,
	pxcode		varchar(10) UNIQUE NOT NULL,
	procedure	varchar(80)
);

CREATE TABLE IF NOT EXISTS starter_users (
	id		serial PRIMARY KEY,
	username	varchar(64) UNIQUE NOT NULL,
	password_hash	text NOT NULL
);
