import type { Identifier } from "../../../shared/acme/types.js";
import type { AccountRecord, AuthzRecord, EabRecord, OrderRecord } from "../core/acme/types.js";
import { formatDnsPattern, formatIpRange, parseDnsPattern, parseIpRange } from "../core/names.js";
import type { Db } from "./db.js";
import type { SQLiteColumn, SQLiteTable } from "./drizzle.cjs";
import { and, count, desc, eq, gt, isNotNull, lte, sql } from "./drizzle.cjs";
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
 * The ACME tables; implements the AcmeStore the ACME domain declares (acme/ports.ts), plus EAB
 * management.
 * What every ACME request runs (its nonce, its account, its order or authorization) is prepared
 * once here: building and preparing the SQL on each call was a third of a request's CPU.
 */
export function acmeStore(db: Db) {
  const p = sql.placeholder;
  /** select * from `table` where `column` = :key, prepared */
  const rowBy = <T extends SQLiteTable>(table: T, column: SQLiteColumn) =>
    db
      .select()
      .from(table)
      .where(eq(column, p("key")))
      .prepare();
  const hot = {
    eab: rowBy(acmeEab, acmeEab.kid),
    useNonce: db
      .insert(acmeUsedNonces)
      .values({ tag: p("tag"), expires: p("expires") })
      .onConflictDoNothing()
      .prepare(),
    sweepNonces: db
      .delete(acmeUsedNonces)
      .where(lte(acmeUsedNonces.expires, p("now")))
      .prepare(),
    accountById: rowBy(acmeAccounts, acmeAccounts.id),
    takeRateSlot: db
      .update(acmeAccounts)
      .set({
        windowStart: sql`case when ${acmeAccounts.windowStart} + ${p("windowMs")} <= ${p("now")} then ${p("now")} else ${acmeAccounts.windowStart} end`,
        windowCount: sql`case when ${acmeAccounts.windowStart} + ${p("windowMs")} <= ${p("now")} then 1 else ${acmeAccounts.windowCount} + 1 end`,
      })
      .where(eq(acmeAccounts.id, p("id")))
      .returning({ start: acmeAccounts.windowStart, count: acmeAccounts.windowCount })
      .prepare(),
    orderByCertSerial: rowBy(acmeOrders, acmeOrders.certSerial),
    // update().set() takes no placeholders, so the values go in as SQL parameters, the JSON
    // column's through its own mapping (as the certificate insert does).
    saveAuthz: db
      .update(acmeAuthzs)
      .set({
        status: sql`${p("status")}`,
        expires: sql`${p("expires")}`,
        challenges: sql`${p("challenges")}`,
      })
      .where(eq(acmeAuthzs.id, p("id")))
      .prepare(),
    orderById: rowBy(acmeOrders, acmeOrders.id),
    claimOrder: db
      .update(acmeOrders)
      .set({ status: "processing" })
      .where(and(eq(acmeOrders.id, p("id")), eq(acmeOrders.status, "pending")))
      .prepare(),
    authzById: rowBy(acmeAuthzs, acmeAuthzs.id),
  };
  const store = {
    eab(kid: string): EabRecord | null {
      const row = hot.eab.get({ key: kid });
      return row ? eabRecord(row) : null;
    },
    eabs: {
      create(rec: EabRecord): void {
        db.insert(acmeEab)
          .values({
            kid: rec.kid,
            name: rec.name,
            hmacKey: Buffer.from(rec.hmacKey).toString("base64url"),
            dnsPatterns: rec.policy.dns.map(formatDnsPattern),
            ipRanges: rec.policy.ips.map(formatIpRange),
            maxValidityMs: rec.policy.maxValidityMs,
            maxAccounts: rec.maxAccounts,
            createdAt: rec.createdAt,
            revokedAt: rec.revokedAt,
          })
          .run();
      },
      byName(name: string): EabRecord | null {
        const row = db.select().from(acmeEab).where(eq(acmeEab.name, name)).get();
        return row ? eabRecord(row) : null;
      },
      /** Every EAB with the number of accounts bound to it, oldest first. */
      list(): { eab: EabRecord; accounts: number }[] {
        const bound = new Map(
          db
            .select({ kid: acmeAccounts.eabKid, n: count() })
            .from(acmeAccounts)
            .groupBy(acmeAccounts.eabKid)
            .all()
            .map((r) => [r.kid, r.n]),
        );
        return db
          .select()
          .from(acmeEab)
          .orderBy(acmeEab.createdAt)
          .all()
          .map((r) => ({ eab: eabRecord(r), accounts: bound.get(r.kid) ?? 0 }));
      },
      revoke(name: string, at: number): "revoked" | "already" | "missing" {
        const row = db
          .select({ revokedAt: acmeEab.revokedAt })
          .from(acmeEab)
          .where(eq(acmeEab.name, name))
          .get();
        if (!row) return "missing";
        if (row.revokedAt !== null) return "already";
        db.update(acmeEab).set({ revokedAt: at }).where(eq(acmeEab.name, name)).run();
        return "revoked";
      },
    },
    nonces: {
      use(tag: string, expires: number): boolean {
        return hot.useNonce.run({ tag, expires }).changes === 1;
      },
    },
    /** forgets the used nonces whose record ran out by `now`; returns how many (a timer's job) */
    sweepUsedNonces(now: number): number {
      return hot.sweepNonces.run({ now }).changes;
    },
    accounts: {
      byId(id: string): AccountRecord | null {
        const row = hot.accountById.get({ key: id });
        return row ? accountRecord(row) : null;
      },
      byThumbprint(thumbprint: string): AccountRecord | null {
        const row = db.select().from(acmeAccounts).where(eq(acmeAccounts.thumbprint, thumbprint)).get();
        return row ? accountRecord(row) : null;
      },
      createBound(rec: AccountRecord, maxAccounts: number): boolean {
        // One transaction: two accounts created at once cannot both take an EAB's last place.
        return db.transaction((tx) => {
          const bound = tx
            .select({ n: count() })
            .from(acmeAccounts)
            .where(eq(acmeAccounts.eabKid, rec.eabKid))
            .get();
          if ((bound?.n ?? 0) >= maxAccounts) return false;
          tx.insert(acmeAccounts).values(rec).run();
          return true;
        });
      },
      update(
        id: string,
        fields: Partial<Pick<AccountRecord, "status" | "contact" | "jwk" | "thumbprint">>,
      ): void {
        db.update(acmeAccounts).set(fields).where(eq(acmeAccounts.id, id)).run();
      },
      takeRateSlot(id: string, now: number, limit: number, windowMs: number): number {
        // One statement, so that workers sharing the database count together.
        const row = hot.takeRateSlot.get({ id, now, windowMs });
        if (!row || row.count <= limit) return 0;
        return Math.max(1, Math.ceil((row.start + windowMs - now) / 1000));
      },
    },
    orders: {
      create(order: OrderRecord, authzs: AuthzRecord[]): void {
        db.transaction((tx) => {
          for (const a of authzs) {
            tx.insert(acmeAuthzs)
              .values({
                id: a.id,
                accountId: a.accountId,
                identifierType: a.identifier.type,
                identifierValue: a.identifier.value,
                status: a.status,
                expires: a.expires,
                challenges: a.challenges,
              })
              .run();
          }
          tx.insert(acmeOrders).values(order).run();
        });
      },
      byId(id: string): OrderRecord | null {
        return hot.orderById.get({ key: id }) ?? null;
      },
      byCertSerial(serial: string): OrderRecord | null {
        return hot.orderByCertSerial.get({ key: serial }) ?? null;
      },
      ofAccount(accountId: string): OrderRecord[] {
        return db
          .select()
          .from(acmeOrders)
          .where(eq(acmeOrders.accountId, accountId))
          .orderBy(desc(acmeOrders.createdAt))
          .all();
      },
      replacingOf(accountId: string): OrderRecord[] {
        return db
          .select()
          .from(acmeOrders)
          .where(and(eq(acmeOrders.accountId, accountId), isNotNull(acmeOrders.replaces)))
          .all();
      },
      update(id: string, fields: Partial<Pick<OrderRecord, "status" | "error" | "certSerial">>): void {
        db.update(acmeOrders).set(fields).where(eq(acmeOrders.id, id)).run();
      },
      /** finalize's compare-and-set: only one request moves an order from pending to processing */
      claim(id: string): boolean {
        return hot.claimOrder.run({ id }).changes === 1;
      },
    },
    authzs: {
      byId(id: string): AuthzRecord | null {
        const row = hot.authzById.get({ key: id });
        return row ? authzRecord(row) : null;
      },
      save(a: AuthzRecord): void {
        hot.saveAuthz.run({
          id: a.id,
          status: a.status,
          expires: a.expires,
          challenges: acmeAuthzs.challenges.mapToDriverValue(a.challenges),
        });
      },
      heldFor(accountId: string, identifier: Identifier, now: number): boolean {
        const row = db
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
          .get();
        return row !== undefined;
      },
    },
  };
  return store;
}
export type SqliteAcmeStore = ReturnType<typeof acmeStore>;
