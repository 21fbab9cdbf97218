CREATE TABLE `acme_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`thumbprint` text NOT NULL,
	`jwk` text NOT NULL,
	`status` text NOT NULL,
	`contact` text NOT NULL,
	`eab_kid` text NOT NULL,
	`created_at` integer NOT NULL,
	`window_start` integer DEFAULT 0 NOT NULL,
	`window_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `acme_accounts_thumbprint_unique` ON `acme_accounts` (`thumbprint`);--> statement-breakpoint
CREATE TABLE `acme_authzs` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`identifier_type` text NOT NULL,
	`identifier_value` text NOT NULL,
	`status` text NOT NULL,
	`expires` integer NOT NULL,
	`challenges` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `acme_eab` (
	`kid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`hmac_key` text NOT NULL,
	`dns_patterns` text NOT NULL,
	`ip_ranges` text NOT NULL,
	`max_validity_ms` integer NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `acme_eab_name_unique` ON `acme_eab` (`name`);--> statement-breakpoint
CREATE TABLE `acme_nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`expires` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `acme_nonces_expires` ON `acme_nonces` (`expires`);--> statement-breakpoint
CREATE TABLE `acme_orders` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`status` text NOT NULL,
	`identifiers` text NOT NULL,
	`authz_ids` text NOT NULL,
	`expires` integer NOT NULL,
	`error` text,
	`cert_serial` text,
	`replaces` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `acme_orders_account` ON `acme_orders` (`account_id`);