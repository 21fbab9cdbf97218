CREATE TABLE `certificates` (
	`serial` text PRIMARY KEY NOT NULL,
	`token_id` text,
	`renewed_from` text,
	`common_name` text,
	`dns_names` text NOT NULL,
	`ip_addresses` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`key_fingerprint` text NOT NULL,
	`pem` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`revocation_reason` integer
);
--> statement-breakpoint
CREATE INDEX `certificates_not_after` ON `certificates` (`not_after`);--> statement-breakpoint
CREATE INDEX `certificates_revoked_at` ON `certificates` (`revoked_at`);--> statement-breakpoint
CREATE TABLE `crls` (
	`number` integer PRIMARY KEY NOT NULL,
	`der` text NOT NULL,
	`this_update` integer NOT NULL,
	`next_update` integer NOT NULL,
	`revoked_count` integer NOT NULL,
	`last_revoked_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`secret_hash` text NOT NULL,
	`dns_patterns` text NOT NULL,
	`ip_ranges` text NOT NULL,
	`max_validity_ms` integer NOT NULL,
	`expires_at` integer,
	`uses_left` integer,
	`rate_limit` integer NOT NULL,
	`rate_window_ms` integer NOT NULL,
	`window_start` integer DEFAULT 0 NOT NULL,
	`window_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_name_unique` ON `tokens` (`name`);