CREATE TABLE `auth_failures` (
	`address` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_failures_window_start` ON `auth_failures` (`window_start`);