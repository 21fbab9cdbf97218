ALTER TABLE `acme_orders` ADD `not_before` integer;--> statement-breakpoint
ALTER TABLE `acme_orders` ADD `not_after` integer;