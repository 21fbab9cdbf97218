CREATE TABLE `alerts` (
	`key` text PRIMARY KEY NOT NULL,
	`firing` integer NOT NULL,
	`changed_at` integer NOT NULL,
	`summary` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `hosts` (
	`name` text NOT NULL,
	`host` text NOT NULL,
	`last_seen` integer NOT NULL,
	`serial` text NOT NULL,
	`names` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`served_sha256` text,
	`renew_at` integer,
	`error` text,
	PRIMARY KEY(`name`, `host`)
);
