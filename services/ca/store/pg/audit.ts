import {
  type AuditEntry,
  type AuditEvent,
  type AuditType,
  type ChainSource,
  GENESIS,
  type Json,
  sealEvent,
} from "../../core/audit.js";
import type { AuditPort, AuditQuery } from "../audit.js";
import { and, asc, desc, eq, gt, gte, inArray, sql } from "../drizzle.cjs";
import type { PgDb, Queryable } from "./db.js";
import { auditEvents } from "./schema.js";

/** The advisory lock that serialises the audit trail's writers (a transaction-scoped one). */
export const AUDIT_LOCK = 0x6175646974n;
const VERIFY_PAGE = 5000;

/**
 * Takes the audit lock in the caller's transaction. A transaction that will write an event and
 * lock rows takes it first, as the issuances do (issuance.ts): the same order everywhere, so a
 * change to a token and a batch of issuances under it never wait on each other in a ring.
 */
export async function lockAudit(tx: Queryable): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK})`);
}

/**
 * One event in the caller's transaction, chained to the head read under the audit lock: two
 * replicas writing at once take turns, so no two events follow the same head.
 */
export async function appendAudit(tx: Queryable, e: AuditEntry): Promise<void> {
  await lockAudit(tx);
  const [head] = await tx
    .select({ hash: auditEvents.hash })
    .from(auditEvents)
    .orderBy(desc(auditEvents.id))
    .limit(1);
  await tx.insert(auditEvents).values(auditRow(head?.hash ?? GENESIS, e));
}

/** The row of event `e` following the event whose hash is `prev`. */
export function auditRow(prev: string, e: AuditEntry): typeof auditEvents.$inferInsert {
  const { details, hash } = sealEvent(prev, e);
  return {
    at: e.at,
    type: e.type,
    actorKind: e.actor.kind,
    actorId: e.actor.id,
    subject: e.subject,
    details,
    prevHash: prev,
    hash,
  };
}

/** The audit trail on PostgreSQL (store/audit.ts's port). */
export function pgAuditStore(db: PgDb, auditing: boolean): AuditPort {
  const rows = (afterId: number, limit: number, q: Omit<AuditQuery, "limit"> = {}) =>
    db
      .select()
      .from(auditEvents)
      .where(
        and(
          gt(auditEvents.id, afterId),
          q.since === undefined ? undefined : gte(auditEvents.at, q.since),
          q.types && q.types.length > 0 ? inArray(auditEvents.type, [...q.types]) : undefined,
          q.actorKind === undefined ? undefined : eq(auditEvents.actorKind, q.actorKind),
          q.actorId === undefined ? undefined : eq(auditEvents.actorId, q.actorId),
        ),
      )
      .orderBy(asc(auditEvents.id))
      .limit(limit)
      .then((found) => found.map(toEvent));
  return {
    async append(e) {
      if (auditing) await db.transaction((tx) => appendAudit(tx, e));
    },
    list: (q) => rows(q.afterId ?? 0, q.limit, q),
    async chain(): Promise<ChainSource> {
      return {
        async *events() {
          let after = 0;
          for (;;) {
            const page = await rows(after, VERIFY_PAGE);
            if (page.length === 0) return;
            yield page;
            after = (page[page.length - 1] as AuditEvent).id;
          }
        },
        async idOfHash(hash) {
          const [r] = await db
            .select({ id: auditEvents.id })
            .from(auditEvents)
            .where(eq(auditEvents.hash, hash))
            .limit(1);
          return r?.id ?? null;
        },
        async lastAllocatedId() {
          const r = await db.$client.query<{ last_value: string; is_called: boolean }>(
            "select last_value, is_called from audit_events_id_seq",
          );
          const row = r.rows[0];
          return row?.is_called ? Number(row.last_value) : 0;
        },
      };
    },
  };
}

function toEvent(r: typeof auditEvents.$inferSelect): AuditEvent {
  let details: { [key: string]: Json };
  try {
    const v = JSON.parse(r.details) as Json;
    details = v !== null && typeof v === "object" && !Array.isArray(v) ? v : { value: v };
  } catch {
    details = { unparsable: r.details };
  }
  return {
    id: r.id,
    at: r.at,
    // as stored: an edited type shows as a hash that does not match
    type: r.type as AuditType,
    actor: { kind: r.actorKind as AuditEvent["actor"]["kind"], id: r.actorId },
    subject: r.subject,
    details,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}
