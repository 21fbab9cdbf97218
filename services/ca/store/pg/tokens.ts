import { conflict, rateLimited } from "../../../../shared/problem.js";
import { formatDnsPattern, formatIpRange, parseDnsPattern, parseIpRange } from "../../core/names.js";
import { TokenRefused, tokenRefusal } from "../../core/tokens.js";
import type { TokenRecord, TokenState } from "../../core/types.js";
import { eq, or } from "../drizzle.cjs";
import type { PgDb, Queryable } from "./db.js";
import { tokens } from "./schema.js";

type Row = typeof tokens.$inferSelect;

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

const values = (t: TokenRecord) => ({
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
});

/** The tokens on PostgreSQL: what store/tokens.ts does on SQLite, each call a promise. */
export function pgTokenStore(db: PgDb) {
  return {
    /** The mutable part of a token: read on every request, so a revocation on any replica counts at once. */
    async state(id: string): Promise<TokenState | null> {
      const [row] = await db
        .select({ kind: tokens.kind, revokedAt: tokens.revokedAt, expiresAt: tokens.expiresAt })
        .from(tokens)
        .where(eq(tokens.id, id));
      return row ?? null;
    },

    /** `q`: the transaction it is part of (its audit event's), else the pool */
    async create(t: TokenRecord, q: Queryable = db): Promise<void> {
      // the unique name decides between two replicas creating the same name at once
      const made = await q
        .insert(tokens)
        .values(values(t))
        .onConflictDoNothing({ target: tokens.name })
        .returning({ id: tokens.id });
      if (made.length === 0) throw conflict(`a token named "${t.name}" already exists`);
    },

    /** Replaces the admin token (init, or a new admin token on demand). */
    async replaceAdmin(t: TokenRecord): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.delete(tokens).where(eq(tokens.kind, "admin"));
        await tx
          .insert(tokens)
          .values({ ...values(t), kind: "admin", dnsPatterns: [], ipRanges: [], maxValidityMs: 0 });
      });
    },

    async byId(id: string): Promise<TokenRecord | null> {
      const [row] = await db.select().from(tokens).where(eq(tokens.id, id));
      return row ? toRecord(row) : null;
    },

    async idOf(nameOrId: string): Promise<string | null> {
      const [row] = await db
        .select({ id: tokens.id })
        .from(tokens)
        .where(or(eq(tokens.name, nameOrId), eq(tokens.id, nameOrId)))
        .limit(1);
      return row?.id ?? null;
    },

    async list(): Promise<TokenRecord[]> {
      return (await db.select().from(tokens).orderBy(tokens.createdAt)).map(toRecord);
    },

    async revoke(name: string, at: number, q: Queryable = db): Promise<boolean> {
      const res = await q.update(tokens).set({ revokedAt: at }).where(eq(tokens.name, name));
      return (res.rowCount ?? 0) > 0;
    },
  };
}
export type PgTokenStore = ReturnType<typeof pgTokenStore>;

/**
 * Inside the issuing transaction: the token must still be usable; one use and one slot of its
 * rate window are consumed. The row is locked (FOR UPDATE) until the transaction ends, so
 * issuances through every replica count one after another: no use is spent twice.
 */
export async function consumeToken(tx: Queryable, id: string, now: number): Promise<void> {
  const [t] = await tx
    .select({
      name: tokens.name,
      revokedAt: tokens.revokedAt,
      expiresAt: tokens.expiresAt,
      usesLeft: tokens.usesLeft,
      rateLimit: tokens.rateLimit,
      rateWindowMs: tokens.rateWindowMs,
      windowStart: tokens.windowStart,
      windowCount: tokens.windowCount,
    })
    .from(tokens)
    .where(eq(tokens.id, id))
    .for("update");
  if (!t) throw new TokenRefused("unknown token", { id });
  await tx
    .update(tokens)
    .set(takeUse(t, id, now))
    .where(eq(tokens.id, id));
}

/** A token's row as the issuing transaction reads it, locked. */
export interface TokenUse {
  name: string;
  revokedAt: number | null;
  expiresAt: number | null;
  usesLeft: number | null;
  rateLimit: number;
  rateWindowMs: number;
  windowStart: number;
  windowCount: number;
}

/**
 * One use of token `id` at `now`: its counters after the use, or the refusal thrown (revoked,
 * expired, out of uses, over its rate limit). Pure: the caller holds the row's lock and writes.
 */
export function takeUse(
  t: TokenUse,
  id: string,
  now: number,
): Pick<TokenUse, "usesLeft" | "windowStart" | "windowCount"> {
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
  return { usesLeft: t.usesLeft === null ? null : t.usesLeft - 1, windowStart, windowCount: windowCount + 1 };
}
