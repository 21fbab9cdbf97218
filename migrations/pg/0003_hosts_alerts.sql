CREATE TABLE "alerts" (
	"key" text PRIMARY KEY NOT NULL,
	"firing" bigint NOT NULL,
	"changed_at" bigint NOT NULL,
	"summary" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosts" (
	"name" text NOT NULL,
	"host" text NOT NULL,
	"last_seen" bigint NOT NULL,
	"serial" text NOT NULL,
	"names" jsonb NOT NULL,
	"not_before" bigint NOT NULL,
	"not_after" bigint NOT NULL,
	"served_sha256" text,
	"renew_at" bigint,
	"error" text,
	CONSTRAINT "hosts_name_host_pk" PRIMARY KEY("name","host")
);
