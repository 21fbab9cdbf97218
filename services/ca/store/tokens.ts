import { conflict, rateLimited } from "../../../shared/problem.js";
import { formatDnsPattern, formatIpRange, parseDnsPattern, parseIpRange } from "../core/names.js";
import { TokenRefused, tokenRefusal } from "../core/tokens.js";
import type { TokenRecord, TokenState } from "../core/types.js";
import type { Db } from "./db.js";
import { eq, or, sql } from "./drizzle.cjs";
import { hotRow, hotStatement } from "./hot.js";
import { tokens } from "./schema.js";

type Row = typeof tokens.$inferSelect;
type ConsumeRow = Pick<
  Row,
  | "name"
  | "revokedAt"
  | "expiresAt"
  | "usesLeft"
  | "rateLimit"
  | "rateWindowMs"
  | "windowStart"
  | "windowCount"
>;

const keysOf = <K extends string>(o: Record<K, unknown>) => Object.keys(o) as K[];

function toRecord(r: Row): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    secretHash: r.secretHash,
    policy: {
      dns: r.dnsPatterns.map(parseDnsPattern),
      ips: r.ipRanges.map(parseIpRange),
      maxValidityMs: r.maxValidityMs,
    },
    expiresAt: r.expiresAt,
    usesLeft: r.usesLeft,
    rateLimit: r.rateLimit,
    rateWindowMs: r.rateWindowMs,
    createdAt: r.createdAt,
    revokedAt: r.revokedAt,
  };
}

export function tokenStore(db: Db) {
  // Asked on every authenticated request, and inside every issuing transaction.
  const byId = eq(tokens.id, sql.placeholder("id"));
  const stateFields = { kind: tokens.kind, revokedAt: tokens.revokedAt, expiresAt: tokens.expiresAt };
  const stateQuery = hotRow<keyof typeof stateFields, TokenState>(
    db,
    db.select(stateFields).from(tokens).where(byId),
    keysOf(stateFields),
    ["id"],
  );
  const consumeFields = {
    name: tokens.name,
    revokedAt: tokens.revokedAt,
    expiresAt: tokens.expiresAt,
    usesLeft: tokens.usesLeft,
    rateLimit: tokens.rateLimit,
    rateWindowMs: tokens.rateWindowMs,
    windowStart: tokens.windowStart,
    windowCount: tokens.windowCount,
  };
  const consumeSelect = hotRow<keyof typeof consumeFields, ConsumeRow>(
    db,
    db.select(consumeFields).from(tokens).where(byId),
    keysOf(consumeFields),
    ["id"],
  );
  const consumeUpdate = hotStatement(
    db,
    db
      .update(tokens)
      .set({
        usesLeft: sql`${sql.placeholder("usesLeft")}`,
        windowStart: sql`${sql.placeholder("windowStart")}`,
        windowCount: sql`${sql.placeholder("windowCount")}`,
      })
      .where(byId),
    ["usesLeft", "windowStart", "windowCount", "id"],
  );
  return {
    /** The mutable part of a token: whether it still exists, is revoked or expired. */
    state(id: string): TokenState | null {
      return stateQuery(id) ?? null;
    },

    create(t: TokenRecord): void {
      const existing = db.select({ id: tokens.id }).from(tokens).where(eq(tokens.name, t.name)).get();
      if (existing) throw conflict(`a token named "${t.name}" already exists`);
      db.insert(tokens)
        .values({
          id: t.id,
          name: t.name,
          kind: t.kind,
          secretHash: t.secretHash,
          dnsPatterns: t.policy.dns.map(formatDnsPattern),
          ipRanges: t.policy.ips.map(formatIpRange),
          maxValidityMs: t.policy.maxValidityMs,
          expiresAt: t.expiresAt,
          usesLeft: t.usesLeft,
          rateLimit: t.rateLimit,
          rateWindowMs: t.rateWindowMs,
          createdAt: t.createdAt,
          revokedAt: t.revokedAt,
        })
        .run();
    },

    /** Replaces the admin token (init, or a new admin token on demand). */
    replaceAdmin(t: TokenRecord): void {
      db.transaction((tx) => {
        tx.delete(tokens).where(eq(tokens.kind, "admin")).run();
        tx.insert(tokens)
          .values({
            id: t.id,
            name: t.name,
            kind: "admin",
            secretHash: t.secretHash,
            dnsPatterns: [],
            ipRanges: [],
            maxValidityMs: 0,
            rateLimit: t.rateLimit,
            rateWindowMs: t.rateWindowMs,
            createdAt: t.createdAt,
          })
          .run();
      });
    },

    byId(id: string): TokenRecord | null {
      const row = db.select().from(tokens).where(eq(tokens.id, id)).get();
      return row ? toRecord(row) : null;
    },

    /** The id of the token with this name, or with this id; null when there is none. */
    idOf(nameOrId: string): string | null {
      const row = db
        .select({ id: tokens.id })
        .from(tokens)
        .where(or(eq(tokens.name, nameOrId), eq(tokens.id, nameOrId)))
        .get();
      return row?.id ?? null;
    },

    list(): TokenRecord[] {
      return db.select().from(tokens).orderBy(tokens.createdAt).all().map(toRecord);
    },

    revoke(name: string, at: number): boolean {
      const res = db.update(tokens).set({ revokedAt: at }).where(eq(tokens.name, name)).run();
      return res.changes > 0;
    },

    /**
     * Inside the issuing transaction: the token must still be usable; one use and one slot of
     * its rate window are consumed. A refusal is a Problem thrown before anything is written:
     * group commit (store/index.ts recordOne) goes on with the batch's other issuances after it.
     */
    consume(id: string, now: number): void {
      const t = consumeSelect(id);
      if (!t) throw new TokenRefused("unknown token", { id });
      const refusal = tokenRefusal({ ...t, kind: "enrol" }, "enrol", now);
      if (refusal) throw new TokenRefused(refusal, { id, name: t.name });
      let { windowStart, windowCount } = t;
      if (now - windowStart >= t.rateWindowMs) {
        windowStart = now;
        windowCount = 0;
      }
      if (windowCount >= t.rateLimit) {
        const retry = Math.max(1, Math.ceil((windowStart + t.rateWindowMs - now) / 1000));
        throw rateLimited(
          `token "${t.name}" allows ${t.rateLimit} requests per ${t.rateWindowMs / 1000}s`,
          retry,
        );
      }
      consumeUpdate.run(t.usesLeft === null ? null : t.usesLeft - 1, windowStart, windowCount + 1, id);
    },
  };
}
export type TokenStore = ReturnType<typeof tokenStore>;
