import { parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";
import {
  ACTOR_KINDS,
  AUDIT_TYPES,
  type AuditEntry,
  type AuditEvent,
  type AuditType,
  type ChainVerdict,
  verifyChain,
} from "../core/audit.js";
import type { AuditPort, AuditQuery } from "../store/audit.js";

/** The audit trail's filters as text, as `audit list` (and the dashboard) take them. */
export interface AuditSearch {
  /** a duration: events from that long ago on */
  since?: string;
  types?: readonly string[];
  /** an actor's kind ("admin", "token", ...), or kind:id for one of them */
  actor?: string;
}

const PAGE = 1000;

/** The audit trail for its readers (the CLI, the dashboard) and for writers outside the store. */
export function auditService(port: AuditPort, clock: () => number) {
  function query(s: AuditSearch): Omit<AuditQuery, "limit"> {
    const since = s.since === undefined ? undefined : clock() - parseDuration(s.since);
    const types = (s.types ?? []).map((t) => {
      if (!(AUDIT_TYPES as readonly string[]).includes(t))
        throw new InputError(`unknown audit event type "${t}": use one of ${AUDIT_TYPES.join(", ")}`);
      return t as AuditType;
    });
    const actor = s.actor?.trim() || undefined;
    const colon = actor?.indexOf(":") ?? -1;
    const actorKind = actor && colon >= 0 ? actor.slice(0, colon) : actor;
    const actorId = actor && colon >= 0 ? actor.slice(colon + 1) : undefined;
    if (actorKind !== undefined && !(ACTOR_KINDS as readonly string[]).includes(actorKind))
      throw new InputError(
        `unknown actor kind "${actorKind}": use one of ${ACTOR_KINDS.join(", ")}, or KIND:ID`,
      );
    return { since, types, actorKind, actorId };
  }
  return {
    /** One page, oldest first, after the event `afterId`. */
    list(s: AuditSearch & { afterId?: number; limit?: number }): Promise<AuditEvent[]> {
      return port.list({ ...query(s), afterId: s.afterId, limit: s.limit ?? PAGE });
    },
    /** Every event the filters keep, a page at a time. */
    async *pages(s: AuditSearch): AsyncGenerator<AuditEvent[]> {
      const q = query(s);
      let afterId = 0;
      for (;;) {
        const page = await port.list({ ...q, afterId, limit: PAGE });
        if (page.length === 0) return;
        yield page;
        afterId = (page[page.length - 1] as AuditEvent).id;
      }
    },
    verify(): Promise<ChainVerdict> {
      return port.chain().then(verifyChain);
    },
    /** An event from outside the store's own changes (a dashboard login). */
    record(e: AuditEntry): Promise<void> {
      return port.append(e);
    },
  };
}
export type AuditService = ReturnType<typeof auditService>;

/** An event as `audit list --json` and the dashboard show it. */
export function auditView(e: AuditEvent) {
  return {
    id: e.id,
    at: new Date(e.at).toISOString(),
    type: e.type,
    actor: e.actor,
    subject: e.subject,
    details: e.details,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}
