CREATE TABLE "certificate_days" (
	"day" bigint NOT NULL,
	"renewed" bigint NOT NULL,
	"revoked" bigint NOT NULL,
	"slot" bigint NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "certificate_days_day_renewed_revoked_slot_pk" PRIMARY KEY("day","renewed","revoked","slot")
);
