DROP INDEX `certificates_revoked_at`;--> statement-breakpoint
CREATE INDEX `certificates_revoked` ON `certificates` (`revoked_at`) WHERE "certificates"."revoked_at" is not null;