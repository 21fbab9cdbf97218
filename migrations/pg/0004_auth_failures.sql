CREATE TABLE "auth_failures" (
	"address" text PRIMARY KEY NOT NULL,
	"window_start" bigint NOT NULL,
	"count" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "auth_failures_window_start" ON "auth_failures" USING btree ("window_start");