import type pg from "pg";
import { type AuditEntry, GENESIS } from "../../core/audit.js";
import { namesOf, RECORD_COLUMNS } from "../../core/inventory.js";
import { TokenRefused } from "../../core/tokens.js";
import type { CertificateRecord } from "../../core/types.js";
import { AUDIT_LOCK, auditRow } from "./audit.js";
import type { PgDb } from "./db.js";
import { unavailability } from "./faults.js";
import { columnName, tableName, unnestInsert, unnestValues } from "./hot.js";
import { auditEvents, certificateNames, certificates, tokens } from "./schema.js";
import { type TokenUse, takeUse } from "./tokens.js";

/** The most issuances one transaction takes; more wait for the next. */
const MAX_BATCH = 64;

const CERT_KEYS = RECORD_COLUMNS;
const NAME_KEYS = ["name", "notAfter", "serial"] as const;
const AUDIT_KEYS = [
  "at",
  "type",
  "actorKind",
  "actorId",
  "subject",
  "details",
  "prevHash",
  "hash",
] as const satisfies readonly (keyof typeof auditEvents.$inferInsert)[];

const TOKEN_FIELDS = [
  tokens.id,
  tokens.name,
  tokens.revokedAt,
  tokens.expiresAt,
  tokens.usesLeft,
  tokens.rateLimit,
  tokens.rateWindowMs,
  tokens.windowStart,
  tokens.windowCount,
];
type ReadValues = [id: string | null, ...rest: unknown[]];

const TOKEN_COLUMNS = TOKEN_FIELDS.map(columnName).join(", ");
const HEAD = `select ${columnName(auditEvents.hash)} from ${tableName(auditEvents)} order by ${columnName(auditEvents.id)} desc limit 1`;

/**
 * The batch's tokens, locked in id order (two replicas' batches never wait on each other in a
 * ring), then a row with the audit chain's head alone: read after the audit lock was taken (by
 * the statement before, so this one's snapshot sees the last event committed under it).
 */
const READ = `with t as (select ${TOKEN_COLUMNS} from ${tableName(tokens)} where ${columnName(tokens.id)} = any($1::text[]) order by ${columnName(tokens.id)} for update) select *, null from t union all select ${TOKEN_FIELDS.map(() => "null").join(", ")}, (${HEAD})`;

/**
 * The batch's writes in one statement: the tokens' counters ($1-$4), the certificates ($5-$17),
 * their names ($18-$20) and the audit events ($21-$28), each kind of row as one array a column.
 * The events are inserted last, once the other writes have run (the one-time filter reads them
 * all): a failing write (a serial taken) then fails before an event's id is drawn, since a
 * drawn id is never given back, and a gap in the ids reads as a deleted event (audit verify).
 */
const WRITE = (() => {
  const t = tableName(tokens);
  const set = [tokens.usesLeft, tokens.windowStart, tokens.windowCount]
    .map((c, i) => `${columnName(c)} = v.c${i + 1}`)
    .join(", ");
  const certs = unnestInsert(certificates, CERT_KEYS, 5, { tail: "returning 1" });
  const names = unnestInsert(certificateNames, NAME_KEYS, 5 + CERT_KEYS.length, {
    tail: "on conflict do nothing returning 1",
  });
  const events = unnestInsert(auditEvents, AUDIT_KEYS, 5 + CERT_KEYS.length + NAME_KEYS.length, {
    where: "(select count(*) from t) + (select count(*) from c) + (select count(*) from n) >= 0",
  });
  return (
    `with t as (update ${t} set ${set} from unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) as v(c0, c1, c2, c3) where ${t}.${columnName(tokens.id)} = v.c0 returning 1), ` +
    `c as (${certs}), n as (${names}) ${events}`
  );
})();

export interface Issuance {
  rec: CertificateRecord;
  /** the token whose use it spends, or null */
  tokenId: string | null;
  now: number;
  audit: AuditEntry | null;
}
interface Pending extends Issuance {
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * Group commit on PostgreSQL: issuances arriving while a transaction is in flight go together
 * into the next one, in four round trips whatever their number (begin with the audit lock; the
 * tokens locked and the chain's head; one statement of every write; commit), where one alone
 * took about eight.
 * Every guarantee of one issuance per transaction holds:
 * - a token's uses and rate window are counted on its locked row, in arrival order: one the
 *   token no longer allows is refused and the others go on;
 * - a serial taken already (the primary key, whichever replica holds it) or any other failure
 *   of the transaction has each issuance tried again alone, so one cannot fail another;
 * - each promise settles after COMMIT returns: nothing is answered as issued before it is.
 * The audit lock is taken first, as every audited change on PostgreSQL does (audit.ts lockAudit),
 * so lock order is the same everywhere; the token rows are held for two round trips.
 */
export function pgIssuer(db: PgDb, auditing: boolean) {
  const queue: Pending[] = [];
  let draining = false;

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) await settle(queue.splice(0, MAX_BATCH));
    } finally {
      draining = false;
    }
  }

  async function settle(batch: Pending[]): Promise<void> {
    let refusals: (unknown | null)[];
    try {
      refusals = await write(batch);
    } catch (e) {
      if (batch.length === 1 || unavailability(e) !== null) {
        for (const p of batch) p.reject(e);
        return;
      }
      for (const p of batch) await settle([p]);
      return;
    }
    batch.forEach((p, i) => {
      const refusal = refusals[i];
      if (refusal) p.reject(refusal);
      else p.resolve();
    });
  }

  /** One transaction for `batch`; what refused each issuance (null: recorded), or throws. */
  async function write(batch: readonly Issuance[]): Promise<(unknown | null)[]> {
    const client = await db.$client.connect();
    let broken: Error | undefined;
    try {
      // the audit lock first, with begin in one round trip: a batch is one turn of the chain
      const events = auditing && batch.some((b) => b.audit !== null);
      await client.query(events ? `begin; select pg_advisory_xact_lock(${AUDIT_LOCK})` : "begin");
      try {
        const refusals = await writeIn(client, batch);
        await client.query("commit");
        return refusals;
      } catch (e) {
        await client.query("rollback").catch((err: Error) => {
          broken = err;
        });
        throw e;
      }
    } finally {
      client.release(broken);
    }
  }

  async function writeIn(client: pg.PoolClient, batch: readonly Issuance[]): Promise<(unknown | null)[]> {
    const ids = [...new Set(batch.flatMap((b) => (b.tokenId === null ? [] : [b.tokenId])))];
    const read = await client.query<ReadValues>({
      name: "certyard_issue_read",
      text: READ,
      values: [ids],
      rowMode: "array",
    });
    const held = new Map<string, TokenUse & { used: boolean }>();
    let head = GENESIS;
    for (const [id, ...v] of read.rows) {
      if (id === null) {
        head = (v[TOKEN_FIELDS.length - 1] as string | null) ?? GENESIS;
        continue;
      }
      const [name, revokedAt, expiresAt, usesLeft, rateLimit, rateWindowMs, windowStart, windowCount] = v as [
        string,
        ...(number | null)[],
      ];
      held.set(id, {
        name,
        revokedAt: revokedAt ?? null,
        expiresAt: expiresAt ?? null,
        usesLeft: usesLeft ?? null,
        rateLimit: rateLimit as number,
        rateWindowMs: rateWindowMs as number,
        windowStart: windowStart as number,
        windowCount: windowCount as number,
        used: false,
      });
    }
    const refusals: (unknown | null)[] = [];
    const recorded: Issuance[] = [];
    for (const b of batch) {
      let refusal: unknown = null;
      if (b.tokenId !== null) {
        const t = held.get(b.tokenId);
        try {
          if (!t) throw new TokenRefused("unknown token", { id: b.tokenId });
          Object.assign(t, takeUse(t, b.tokenId, b.now), { used: true });
        } catch (e) {
          refusal = e;
        }
      }
      refusals.push(refusal);
      if (refusal === null) recorded.push(b);
    }
    if (recorded.length === 0) return refusals;

    const used = [...held].filter(([, t]) => t.used);
    const certs = recorded.map((b) => b.rec);
    const names = certs.flatMap((rec) =>
      namesOf(rec).map((name) => ({ name, notAfter: rec.notAfter, serial: rec.serial })),
    );
    const events = (auditing ? recorded.flatMap((b) => (b.audit ? [b.audit] : [])) : []).map((e) => {
      const row = auditRow(head, e);
      head = row.hash;
      return row;
    });
    await client.query({
      name: "certyard_issue_write",
      text: WRITE,
      values: [
        used.map(([id]) => id),
        used.map(([, t]) => t.usesLeft),
        used.map(([, t]) => t.windowStart),
        used.map(([, t]) => t.windowCount),
        ...unnestValues(certificates, CERT_KEYS, certs),
        ...unnestValues(certificateNames, NAME_KEYS, names),
        ...unnestValues(auditEvents, AUDIT_KEYS, events),
      ],
    });
    return refusals;
  }

  return {
    /** Records `i` with the issuances around it; settles after its transaction commits. */
    record(i: Issuance): Promise<void> {
      return new Promise((resolve, reject) => {
        queue.push({ ...i, resolve, reject });
        if (!draining) {
          draining = true;
          setImmediate(drain);
        }
      });
    },
  };
}
