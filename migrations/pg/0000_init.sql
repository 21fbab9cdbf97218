CREATE TABLE "acme_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"thumbprint" text NOT NULL,
	"jwk" jsonb NOT NULL,
	"status" text NOT NULL,
	"contact" jsonb NOT NULL,
	"eab_kid" text NOT NULL,
	"created_at" bigint NOT NULL,
	"window_start" bigint DEFAULT 0 NOT NULL,
	"window_count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "acme_accounts_thumbprint_unique" UNIQUE("thumbprint")
);
--> statement-breakpoint
CREATE TABLE "acme_authzs" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"identifier_type" text NOT NULL,
	"identifier_value" text NOT NULL,
	"status" text NOT NULL,
	"expires" bigint NOT NULL,
	"challenges" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "acme_eab" (
	"kid" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"hmac_key" text NOT NULL,
	"dns_patterns" jsonb NOT NULL,
	"ip_ranges" jsonb NOT NULL,
	"max_validity_ms" bigint NOT NULL,
	"max_accounts" bigint DEFAULT 1 NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "acme_eab_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "acme_orders" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"status" text NOT NULL,
	"identifiers" jsonb NOT NULL,
	"authz_ids" jsonb NOT NULL,
	"expires" bigint NOT NULL,
	"error" jsonb,
	"cert_serial" text,
	"replaces" text,
	"not_before" bigint,
	"not_after" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "acme_used_nonces" (
	"tag" text PRIMARY KEY NOT NULL,
	"expires" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificate_names" (
	"name" text NOT NULL,
	"not_after" bigint NOT NULL,
	"serial" text NOT NULL,
	CONSTRAINT "certificate_names_name_not_after_serial_pk" PRIMARY KEY("name","not_after","serial")
);
--> statement-breakpoint
CREATE TABLE "certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"token_id" text,
	"renewed_from" text,
	"renewed_by" text,
	"common_name" text,
	"dns_names" jsonb NOT NULL,
	"ip_addresses" jsonb NOT NULL,
	"not_before" bigint NOT NULL,
	"not_after" bigint NOT NULL,
	"key_fingerprint" text NOT NULL,
	"pem" text NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	"revocation_reason" bigint
);
--> statement-breakpoint
CREATE TABLE "crls" (
	"number" bigint PRIMARY KEY NOT NULL,
	"der" text NOT NULL,
	"this_update" bigint NOT NULL,
	"next_update" bigint NOT NULL,
	"revoked_count" bigint NOT NULL,
	"last_revoked_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"secret_hash" text NOT NULL,
	"dns_patterns" jsonb NOT NULL,
	"ip_ranges" jsonb NOT NULL,
	"max_validity_ms" bigint NOT NULL,
	"expires_at" bigint,
	"uses_left" bigint,
	"rate_limit" bigint NOT NULL,
	"rate_window_ms" bigint NOT NULL,
	"window_start" bigint DEFAULT 0 NOT NULL,
	"window_count" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "tokens_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE INDEX "acme_orders_account" ON "acme_orders" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "acme_orders_cert_serial" ON "acme_orders" USING btree ("cert_serial") WHERE "acme_orders"."cert_serial" is not null;--> statement-breakpoint
CREATE INDEX "acme_used_nonces_expires" ON "acme_used_nonces" USING btree ("expires");--> statement-breakpoint
CREATE INDEX "certificates_not_after" ON "certificates" USING btree ("not_after","serial");--> statement-breakpoint
CREATE INDEX "certificates_token" ON "certificates" USING btree ("token_id","not_after","serial");--> statement-breakpoint
CREATE INDEX "certificates_revoked" ON "certificates" USING btree ("revoked_at") WHERE "certificates"."revoked_at" is not null;--> statement-breakpoint
CREATE INDEX "certificates_renewed_from" ON "certificates" USING btree ("renewed_from") WHERE "certificates"."renewed_from" is not null;--> statement-breakpoint
CREATE INDEX "certificates_revoked_order" ON "certificates" USING btree ("not_after","serial") WHERE "certificates"."revoked_at" is not null;--> statement-breakpoint
CREATE INDEX "certificates_superseded_order" ON "certificates" USING btree ("not_after","serial") WHERE "certificates"."renewed_by" is not null;