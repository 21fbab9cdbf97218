-- certificate_days (0009) counts the certificates by day of expiry, renewed or not, revoked or
-- not; this trigger keeps it in step in the transaction that changes certificates. The day is
-- the one whose (start, end] holds not_after: (not_after - 1) / 86400000 (store/dashboard.ts).
-- Each backend writes its own slot (its pid mod 16), so that issuances through several
-- connections do not all wait for one row's lock; a slot's n may go below zero, the sum is exact.
INSERT INTO "certificate_days" ("day", "renewed", "revoked", "slot", "n")
  SELECT ("not_after" - 1) / 86400000, ("renewed_by" IS NOT NULL)::int, ("revoked_at" IS NOT NULL)::int, 0, count(*)
  FROM "certificates" GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE FUNCTION "certificate_days_count"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s bigint := pg_backend_pid() % 16;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO "certificate_days" AS d ("day", "renewed", "revoked", "slot", "n")
    VALUES ((OLD."not_after" - 1) / 86400000, (OLD."renewed_by" IS NOT NULL)::int, (OLD."revoked_at" IS NOT NULL)::int, s, -1)
    ON CONFLICT ("day", "renewed", "revoked", "slot") DO UPDATE SET "n" = d."n" - 1;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "certificate_days" AS d ("day", "renewed", "revoked", "slot", "n")
    VALUES ((NEW."not_after" - 1) / 86400000, (NEW."renewed_by" IS NOT NULL)::int, (NEW."revoked_at" IS NOT NULL)::int, s, 1)
    ON CONFLICT ("day", "renewed", "revoked", "slot") DO UPDATE SET "n" = d."n" + 1;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "certificate_days_insert_delete" AFTER INSERT OR DELETE ON "certificates"
  FOR EACH ROW EXECUTE FUNCTION "certificate_days_count"();
--> statement-breakpoint
CREATE TRIGGER "certificate_days_update" AFTER UPDATE OF "not_after", "renewed_by", "revoked_at" ON "certificates"
  FOR EACH ROW WHEN (
    (OLD."not_after" - 1) / 86400000 <> (NEW."not_after" - 1) / 86400000
    OR (OLD."renewed_by" IS NULL) <> (NEW."renewed_by" IS NULL)
    OR (OLD."revoked_at" IS NULL) <> (NEW."revoked_at" IS NULL))
  EXECUTE FUNCTION "certificate_days_count"();
