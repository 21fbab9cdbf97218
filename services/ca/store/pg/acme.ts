import type { Identifier } from "../../../../shared/acme/types.js";
import type { AccountRecord, AuthzRecord, EabRecord, OrderRecord } from "../../core/acme/types.js";
import { formatDnsPattern, formatIpRange, parseDnsPattern, parseIpRange } from "../../core/names.js";
import { and, count, desc, eq, gt, isNotNull, lte, sql } from "../drizzle.cjs";
import type { PgDb, Queryable } from "./db.js";
import { acmeAccounts, acmeAuthzs, acmeEab, acmeOrders, acmeUsedNonces } from "./schema.js";

type EabRow = typeof acmeEab.$inferSelect;
type AccountRow = typeof acmeAccounts.$inferSelect;
type AuthzRow = typeof acmeAuthzs.$inferSelect;

const eabRecord = (r: EabRow): EabRecord => ({
  kid: r.kid,
  name: r.name,
  hmacKey: Buffer.from(r.hmacKey, "base64url"),
  policy: {
    dns: r.dnsPatterns.map(parseDnsPattern),
    ips: r.ipRanges.map(parseIpRange),
    maxValidityMs: r.maxValidityMs,
  },
  maxAccounts: r.maxAccounts,
  createdAt: r.createdAt,
  revokedAt: r.revokedAt,
});

const accountRecord = ({ windowStart: _s, windowCount: _c, ...r }: AccountRow): AccountRecord => r;

const authzRecord = (r: AuthzRow): AuthzRecord => ({
  id: r.id,
  accountId: r.accountId,
  identifier: { type: r.identifierType, value: r.identifierValue },
  status: r.status,
  expires: r.expires,
  challenges: r.challenges as AuthzRecord["challenges"],
});

/**
 * The ACME tables on PostgreSQL: what store/acme.ts does on SQLite, each call a promise. Every
 * replica reads and writes the same rows, so a nonce, an order or an authorization made through
 * one is seen by the next request to any other.
 */
export function pgAcmeStore(db: PgDb) {
  return {
    async eab(kid: string): Promise<EabRecord | null> {
      const [row] = await db.select().from(acmeEab).where(eq(acmeEab.kid, kid));
      return row ? eabRecord(row) : null;
    },
    eabs: {
      /** `q`: the transaction it is part of (its audit event's), else the pool */
      async create(rec: EabRecord, q: Queryable = db): Promise<void> {
        await q.insert(acmeEab).values({
          kid: rec.kid,
          name: rec.name,
          hmacKey: Buffer.from(rec.hmacKey).toString("base64url"),
          dnsPatterns: rec.policy.dns.map(formatDnsPattern),
          ipRanges: rec.policy.ips.map(formatIpRange),
          maxValidityMs: rec.policy.maxValidityMs,
          maxAccounts: rec.maxAccounts,
          createdAt: rec.createdAt,
          revokedAt: rec.revokedAt,
        });
      },
      async byName(name: string): Promise<EabRecord | null> {
        const [row] = await db.select().from(acmeEab).where(eq(acmeEab.name, name));
        return row ? eabRecord(row) : null;
      },
      /** Every EAB with the number of accounts bound to it, oldest first. */
      async list(): Promise<{ eab: EabRecord; accounts: number }[]> {
        const bound = new Map(
          (
            await db
              .select({ kid: acmeAccounts.eabKid, n: count() })
              .from(acmeAccounts)
              .groupBy(acmeAccounts.eabKid)
          ).map((r) => [r.kid, r.n]),
        );
        return (await db.select().from(acmeEab).orderBy(acmeEab.createdAt)).map((r) => ({
          eab: eabRecord(r),
          accounts: bound.get(r.kid) ?? 0,
        }));
      },
      async revoke(name: string, at: number, q: Queryable = db): Promise<"revoked" | "already" | "missing"> {
        const done = await q
          .update(acmeEab)
          .set({ revokedAt: at })
          .where(and(eq(acmeEab.name, name), sql`${acmeEab.revokedAt} is null`))
          .returning({ kid: acmeEab.kid });
        if (done.length > 0) return "revoked";
        const [row] = await q.select({ kid: acmeEab.kid }).from(acmeEab).where(eq(acmeEab.name, name));
        return row ? "already" : "missing";
      },
    },
    nonces: {
      /** RFC 8555 6.5: true only for the one request, on any replica, that uses the nonce first. */
      async use(tag: string, expires: number): Promise<boolean> {
        const made = await db
          .insert(acmeUsedNonces)
          .values({ tag, expires })
          .onConflictDoNothing()
          .returning({ tag: acmeUsedNonces.tag });
        return made.length === 1;
      },
    },
    async sweepUsedNonces(now: number): Promise<number> {
      const res = await db.delete(acmeUsedNonces).where(lte(acmeUsedNonces.expires, now));
      return res.rowCount ?? 0;
    },
    accounts: {
      async byId(id: string): Promise<AccountRecord | null> {
        const [row] = await db.select().from(acmeAccounts).where(eq(acmeAccounts.id, id));
        return row ? accountRecord(row) : null;
      },
      async byThumbprint(thumbprint: string): Promise<AccountRecord | null> {
        const [row] = await db.select().from(acmeAccounts).where(eq(acmeAccounts.thumbprint, thumbprint));
        return row ? accountRecord(row) : null;
      },
      async createBound(rec: AccountRecord, maxAccounts: number): Promise<boolean> {
        // The EAB's row is locked first, so two accounts created at once through any replicas
        // count one after the other and cannot both take an EAB's last place.
        return db.transaction(async (tx) => {
          await tx
            .select({ kid: acmeEab.kid })
            .from(acmeEab)
            .where(eq(acmeEab.kid, rec.eabKid))
            .for("update");
          const [bound] = await tx
            .select({ n: count() })
            .from(acmeAccounts)
            .where(eq(acmeAccounts.eabKid, rec.eabKid));
          if ((bound?.n ?? 0) >= maxAccounts) return false;
          await tx.insert(acmeAccounts).values(rec);
          return true;
        });
      },
      async update(
        id: string,
        fields: Partial<Pick<AccountRecord, "status" | "contact" | "jwk" | "thumbprint">>,
      ): Promise<void> {
        await db.update(acmeAccounts).set(fields).where(eq(acmeAccounts.id, id));
      },
      async takeRateSlot(id: string, now: number, limit: number, windowMs: number): Promise<number> {
        // One statement, so that every replica counts in the same window.
        const expired = sql`${acmeAccounts.windowStart} + ${windowMs} <= ${now}`;
        const [row] = await db
          .update(acmeAccounts)
          .set({
            windowStart: sql`case when ${expired} then ${now}::bigint else ${acmeAccounts.windowStart} end`,
            windowCount: sql`case when ${expired} then 1 else ${acmeAccounts.windowCount} + 1 end`,
          })
          .where(eq(acmeAccounts.id, id))
          .returning({ start: acmeAccounts.windowStart, count: acmeAccounts.windowCount });
        if (!row || row.count <= limit) return 0;
        return Math.max(1, Math.ceil((row.start + windowMs - now) / 1000));
      },
    },
    orders: {
      async create(order: OrderRecord, authzs: AuthzRecord[]): Promise<void> {
        await db.transaction(async (tx) => {
          if (authzs.length > 0) {
            await tx.insert(acmeAuthzs).values(
              authzs.map((a) => ({
                id: a.id,
                accountId: a.accountId,
                identifierType: a.identifier.type,
                identifierValue: a.identifier.value,
                status: a.status,
                expires: a.expires,
                challenges: a.challenges,
              })),
            );
          }
          await tx.insert(acmeOrders).values(order);
        });
      },
      async byId(id: string): Promise<OrderRecord | null> {
        const [row] = await db.select().from(acmeOrders).where(eq(acmeOrders.id, id));
        return row ?? null;
      },
      async byCertSerial(serial: string): Promise<OrderRecord | null> {
        const [row] = await db.select().from(acmeOrders).where(eq(acmeOrders.certSerial, serial)).limit(1);
        return row ?? null;
      },
      async ofAccount(accountId: string): Promise<OrderRecord[]> {
        return db
          .select()
          .from(acmeOrders)
          .where(eq(acmeOrders.accountId, accountId))
          .orderBy(desc(acmeOrders.createdAt));
      },
      async replacingOf(accountId: string): Promise<OrderRecord[]> {
        return db
          .select()
          .from(acmeOrders)
          .where(and(eq(acmeOrders.accountId, accountId), isNotNull(acmeOrders.replaces)));
      },
      async update(
        id: string,
        fields: Partial<Pick<OrderRecord, "status" | "error" | "certSerial">>,
      ): Promise<void> {
        await db.update(acmeOrders).set(fields).where(eq(acmeOrders.id, id));
      },
      /** finalize's compare-and-set: only one request, on any replica, moves an order from pending */
      async claim(id: string): Promise<boolean> {
        const res = await db
          .update(acmeOrders)
          .set({ status: "processing" })
          .where(and(eq(acmeOrders.id, id), eq(acmeOrders.status, "pending")));
        return res.rowCount === 1;
      },
    },
    authzs: {
      async byId(id: string): Promise<AuthzRecord | null> {
        const [row] = await db.select().from(acmeAuthzs).where(eq(acmeAuthzs.id, id));
        return row ? authzRecord(row) : null;
      },
      async save(a: AuthzRecord): Promise<void> {
        await db
          .update(acmeAuthzs)
          .set({ status: a.status, expires: a.expires, challenges: a.challenges })
          .where(eq(acmeAuthzs.id, a.id));
      },
      async heldFor(accountId: string, identifier: Identifier, now: number): Promise<boolean> {
        const [row] = await db
          .select({ id: acmeAuthzs.id })
          .from(acmeAuthzs)
          .where(
            and(
              eq(acmeAuthzs.accountId, accountId),
              eq(acmeAuthzs.identifierType, identifier.type),
              eq(acmeAuthzs.identifierValue, identifier.value),
              eq(acmeAuthzs.status, "valid"),
              gt(acmeAuthzs.expires, now),
            ),
          )
          .limit(1);
        return row !== undefined;
      },
    },
  };
}
