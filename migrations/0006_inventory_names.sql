CREATE TABLE `certificate_names` (
	`name` text NOT NULL,
	`not_after` integer NOT NULL,
	`serial` text NOT NULL,
	PRIMARY KEY(`name`, `not_after`, `serial`)
);
--> statement-breakpoint
DROP INDEX `certificates_not_after`;--> statement-breakpoint
ALTER TABLE `certificates` ADD `renewed_by` text;--> statement-breakpoint
CREATE INDEX `certificates_token` ON `certificates` (`token_id`,`not_after`,`serial`);--> statement-breakpoint
CREATE INDEX `certificates_revoked_order` ON `certificates` (`not_after`,`serial`) WHERE "certificates"."revoked_at" is not null;--> statement-breakpoint
CREATE INDEX `certificates_superseded_order` ON `certificates` (`not_after`,`serial`) WHERE "certificates"."renewed_by" is not null;--> statement-breakpoint
CREATE INDEX `certificates_not_after` ON `certificates` (`not_after`,`serial`,`revoked_at`,`renewed_by`,`token_id`,`renewed_from`,`common_name`,`dns_names`,`ip_addresses`,`not_before`,`key_fingerprint`);--> statement-breakpoint
CREATE INDEX `acme_orders_cert_serial` ON `acme_orders` (`cert_serial`) WHERE "acme_orders"."cert_serial" is not null;--> statement-breakpoint
INSERT OR IGNORE INTO `certificate_names` (`name`, `not_after`, `serial`)
  SELECT lower(`n`.`value`), `c`.`not_after`, `c`.`serial` FROM `certificates` `c`, json_each(`c`.`dns_names`) `n`
  UNION ALL
  SELECT `n`.`value`, `c`.`not_after`, `c`.`serial` FROM `certificates` `c`, json_each(`c`.`ip_addresses`) `n`;--> statement-breakpoint
UPDATE `certificates` SET `renewed_by` = (
  SELECT `s`.`serial` FROM `certificates` `s` WHERE `s`.`renewed_from` = `certificates`.`serial`
) WHERE `serial` IN (SELECT `renewed_from` FROM `certificates` WHERE `renewed_from` IS NOT NULL);
