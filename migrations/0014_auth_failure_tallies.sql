CREATE TABLE `auth_failure_tallies` (
	`address` text PRIMARY KEY NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`failures` integer NOT NULL,
	`limited` integer NOT NULL,
	`tokens` text NOT NULL,
	`reasons` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_failure_tallies_first_at` ON `auth_failure_tallies` (`first_at`);