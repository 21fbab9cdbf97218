-- certificate_days (0015) counts the certificates by day of expiry, renewed or not, revoked or
-- not; these triggers keep it in step in the transaction that changes certificates. The day is
-- the one whose (start, end] holds not_after: (not_after - 1) / 86400000 (store/dashboard.ts).
INSERT INTO `certificate_days` (`day`, `renewed`, `revoked`, `slot`, `n`)
  SELECT (`not_after` - 1) / 86400000, `renewed_by` IS NOT NULL, `revoked_at` IS NOT NULL, 0, count(*)
  FROM `certificates` GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE TRIGGER `certificate_days_insert` AFTER INSERT ON `certificates` BEGIN
  INSERT INTO `certificate_days` (`day`, `renewed`, `revoked`, `slot`, `n`)
  VALUES ((new.`not_after` - 1) / 86400000, new.`renewed_by` IS NOT NULL, new.`revoked_at` IS NOT NULL, 0, 1)
  ON CONFLICT (`day`, `renewed`, `revoked`, `slot`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `certificate_days_update` AFTER UPDATE OF `not_after`, `renewed_by`, `revoked_at` ON `certificates`
  WHEN (old.`not_after` - 1) / 86400000 <> (new.`not_after` - 1) / 86400000
    OR (old.`renewed_by` IS NULL) <> (new.`renewed_by` IS NULL)
    OR (old.`revoked_at` IS NULL) <> (new.`revoked_at` IS NULL)
BEGIN
  UPDATE `certificate_days` SET `n` = `n` - 1
   WHERE `day` = (old.`not_after` - 1) / 86400000 AND `renewed` = (old.`renewed_by` IS NOT NULL)
     AND `revoked` = (old.`revoked_at` IS NOT NULL) AND `slot` = 0;
  INSERT INTO `certificate_days` (`day`, `renewed`, `revoked`, `slot`, `n`)
  VALUES ((new.`not_after` - 1) / 86400000, new.`renewed_by` IS NOT NULL, new.`revoked_at` IS NOT NULL, 0, 1)
  ON CONFLICT (`day`, `renewed`, `revoked`, `slot`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `certificate_days_delete` AFTER DELETE ON `certificates` BEGIN
  UPDATE `certificate_days` SET `n` = `n` - 1
   WHERE `day` = (old.`not_after` - 1) / 86400000 AND `renewed` = (old.`renewed_by` IS NOT NULL)
     AND `revoked` = (old.`revoked_at` IS NOT NULL) AND `slot` = 0;
END;
