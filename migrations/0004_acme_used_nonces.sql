CREATE TABLE `acme_used_nonces` (
	`tag` text PRIMARY KEY NOT NULL,
	`expires` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `acme_used_nonces_expires` ON `acme_used_nonces` (`expires`);--> statement-breakpoint
DROP TABLE `acme_nonces`;