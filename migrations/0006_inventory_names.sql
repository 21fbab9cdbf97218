CREATE TABLE `certificate_names` (
	`name` text NOT NULL,
	`not_after` integer NOT NULL,
	`serial` text NOT NULL,
	PRIMARY KEY(`name`, `not_after`, `serial`)
);
--> statement-breakpoint
DROP INDEX `certificates_not_after`;--> statement-breakpoint
CREATE INDEX `certificates_token` ON `certificates` (`token_id`,`not_after`,`serial`);--> statement-breakpoint
CREATE INDEX `certificates_not_after` ON `certificates` (`not_after`,`serial`);--> statement-breakpoint
INSERT OR IGNORE INTO `certificate_names` (`name`, `not_after`, `serial`)
  SELECT lower(`n`.`value`), `c`.`not_after`, `c`.`serial` FROM `certificates` `c`, json_each(`c`.`dns_names`) `n`
  UNION ALL
  SELECT `n`.`value`, `c`.`not_after`, `c`.`serial` FROM `certificates` `c`, json_each(`c`.`ip_addresses`) `n`;
