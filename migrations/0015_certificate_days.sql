CREATE TABLE `certificate_days` (
	`day` integer NOT NULL,
	`renewed` integer NOT NULL,
	`revoked` integer NOT NULL,
	`slot` integer NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`day`, `renewed`, `revoked`, `slot`)
);
