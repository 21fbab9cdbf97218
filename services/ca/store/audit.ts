import {
  type AuditEntry,
  type AuditEvent,
  type AuditType,
  type ChainSource,
  GENESIS,
  type Json,
  sealEvent,
} from "../core/audit.js";
import type { Db } from "./db.js";

/** What `audit list` and the dashboard ask for: newest last, from `since` on, after `afterId`. */
export interface AuditQuery {
  since?: number;
  afterId?: number;
  types?: readonly AuditType[];
  /** events by this kind of actor, and by this one when `actorId` is given too */
  actorKind?: string;
  actorId?: string;
  limit: number;
}

/** The audit trail's port (async, as every store port; a PostgreSQL store implements it too). */
export interface AuditPort {
  /** Appends one event, chained to the current head, in a transaction of its own. */
  append(e: AuditEntry): Promise<void>;
  /** Events in id order, oldest first. */
  list(q: AuditQuery): Promise<AuditEvent[]>;
  /** For `audit verify`: the events a page at a time, and what the chain needs beside them. */
  chain(): Promise<ChainSource>;
}

const VERIFY_PAGE = 5000;

/**
 * The SQLite audit trail. `appendIn` writes inside a transaction the caller holds (the group
 * commit of issuance, a token's creation): the head is read there, so under SQLite's single
 * writer two events never follow the same head.
 */
export function auditStore(db: Db) {
  const sqlite = db.$client;
  const headStmt = sqlite.prepare("select hash from audit_events order by id desc limit 1").pluck();
  const insertStmt = sqlite.prepare(
    "insert into audit_events (at, type, actor_kind, actor_id, subject, details, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const seqStmt = sqlite.prepare("select seq from sqlite_sequence where name = 'audit_events'").pluck();
  const byHashStmt = sqlite.prepare("select id from audit_events where hash = ? limit 1").pluck();
  const pageStmt = sqlite.prepare("select * from audit_events where id > ? order by id limit ?");

  /** The hash the next event follows; call inside the write transaction. */
  function head(): string {
    return (headStmt.get() as string | undefined) ?? GENESIS;
  }
  /** Writes `e` after `prev` and returns its hash, the new head. */
  function write(e: AuditEntry, prev: string): string {
    const { details, hash } = sealEvent(prev, e);
    insertStmt.run(e.at, e.type, e.actor.kind, e.actor.id, e.subject, details, prev, hash);
    return hash;
  }
  const appendTx = sqlite.transaction((e: AuditEntry) => write(e, head()));

  return {
    head,
    write,
    /** One event in the caller's write transaction. */
    appendIn(e: AuditEntry): void {
      write(e, head());
    },
    async append(e: AuditEntry): Promise<void> {
      appendTx.immediate(e);
    },
    async list(q: AuditQuery): Promise<AuditEvent[]> {
      const conds = ["id > ?"];
      const params: unknown[] = [q.afterId ?? 0];
      if (q.since !== undefined) {
        conds.push("at >= ?");
        params.push(q.since);
      }
      if (q.types && q.types.length > 0) {
        conds.push(`type in (${q.types.map(() => "?").join(",")})`);
        params.push(...q.types);
      }
      if (q.actorKind !== undefined) {
        conds.push("actor_kind = ?");
        params.push(q.actorKind);
      }
      if (q.actorId !== undefined) {
        conds.push("actor_id = ?");
        params.push(q.actorId);
      }
      params.push(q.limit);
      const rows = sqlite
        .prepare(`select * from audit_events where ${conds.join(" and ")} order by id limit ?`)
        .all(...params) as Row[];
      return rows.map(toEvent);
    },
    async chain(): Promise<ChainSource> {
      return {
        async *events() {
          let after = 0;
          for (;;) {
            const rows = pageStmt.all(after, VERIFY_PAGE) as Row[];
            if (rows.length === 0) return;
            yield rows.map(toEvent);
            after = (rows[rows.length - 1] as Row).id;
          }
        },
        async idOfHash(hash) {
          return (byHashStmt.get(hash) as number | undefined) ?? null;
        },
        async lastAllocatedId() {
          return (seqStmt.get() as number | undefined) ?? 0;
        },
      };
    },
  };
}
export type AuditStore = ReturnType<typeof auditStore>;

interface Row {
  id: number;
  at: number;
  type: string;
  actor_kind: string;
  actor_id: string;
  subject: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** A row as it is: verify must see what is stored, so nothing is checked or normalised here. */
function toEvent(r: Row): AuditEvent {
  return {
    id: r.id,
    at: r.at,
    // as stored; an edited type shows up as a hash that does not match
    type: r.type as AuditType,
    actor: { kind: r.actor_kind as AuditEvent["actor"]["kind"], id: r.actor_id },
    subject: r.subject,
    details: parseDetails(r.details),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function parseDetails(text: string): { [key: string]: Json } {
  try {
    const v = JSON.parse(text) as Json;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : { value: v };
  } catch {
    // an edited row whose details are no longer JSON: its hash will not match
    return { unparsable: text };
  }
}
