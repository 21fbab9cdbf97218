CREATE TABLE "auth_failure_tallies" (
	"address" text PRIMARY KEY NOT NULL,
	"first_at" bigint NOT NULL,
	"last_at" bigint NOT NULL,
	"failures" bigint NOT NULL,
	"limited" bigint NOT NULL,
	"tokens" text NOT NULL,
	"reasons" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "auth_failure_tallies_first_at" ON "auth_failure_tallies" USING btree ("first_at");