-- A script for the shell's golden test.
CREATE TABLE people(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,   -- a comment; with a semicolon
  score REAL,
  photo BLOB
);
CREATE INDEX people_name ON people(name);
INSERT INTO people VALUES (1, 'Ada', 9.5, x'cafe'), (2, 'Grace "Amazing" Hopper', 10, NULL);
INSERT INTO people VALUES (3, 'Comma, Inc.', NULL, x''); INSERT INTO people VALUES (4, 'two
lines', -0.25, NULL);
CREATE TRIGGER people_audit AFTER DELETE ON people BEGIN
  INSERT INTO gone VALUES (old.id); -- ';' inside the trigger body
END;
CREATE TABLE gone(id INTEGER);
.tables
.schema people
.mode
SELECT * FROM people ORDER BY id;
SELECT count(*) AS n, sum(score) AS total, 'it''s' AS quote FROM people;
.mode csv
SELECT * FROM people ORDER BY id;
SELECT id FROM people WHERE id > 100;
.mode json
SELECT * FROM people ORDER BY id;
SELECT id FROM people WHERE id > 100;
SELECT 1e308 * 10 AS inf, -1e308 * 10 AS neginf, 1e-7 AS tiny, 123456789.0 AS big, 'é ☃' AS utf8;
.mode table
BEGIN CONCURRENT;
DELETE FROM people WHERE id = 4;
COMMIT;
SELECT * FROM gone;
SELECT * FROM nowhere;
.frobnicate
.mode yaml
SELECT name
  FROM people
  WHERE id = 1
