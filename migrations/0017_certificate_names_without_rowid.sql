-- certificate_names becomes a WITHOUT ROWID table (issue 16): its rows are their primary key
-- (name, not_after, serial), which a rowid table kept twice, once in the table and once in its
-- primary key's index, so each name of each issued certificate wrote two b-trees (0.15-0.19 of
-- the ~4 pages an issuance writes, BENCH_ONLY=pages). Same columns, key and order; drizzle-kit
-- does not model WITHOUT ROWID, hence this hand-written migration (schema.ts says so).
CREATE TABLE `certificate_names_by_key` (
	`name` text NOT NULL,
	`not_after` integer NOT NULL,
	`serial` text NOT NULL,
	PRIMARY KEY(`name`, `not_after`, `serial`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `certificate_names_by_key` (`name`, `not_after`, `serial`)
  SELECT `name`, `not_after`, `serial` FROM `certificate_names` ORDER BY `name`, `not_after`, `serial`;
--> statement-breakpoint
DROP TABLE `certificate_names`;
--> statement-breakpoint
ALTER TABLE `certificate_names_by_key` RENAME TO `certificate_names`;
