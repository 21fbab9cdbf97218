import type { HttpBindings } from "@hono/node-server";
import type { NewEabRequest } from "../../acme/eab.js";
import type { AuditSearch } from "../../audit/service.js";
import type { EabRecord } from "../../core/acme/types.js";
import type { Actor, AuditEntry, AuditEvent } from "../../core/audit.js";
import type { HostRecord } from "../../core/hosts.js";

import type { InventoryState } from "../../core/inventory.js";
import type { CertificateRecord, CrlRecord, TokenRecord } from "../../core/types.js";
import type { ExpiryTimeline } from "../../store/dashboard.js";
import type { SessionRecord } from "../../store/sessions.js";
import type { NewTokenRequest } from "../../tokens/requests.js";
import type { AppDeps } from "../context.js";

/** A certificate as its detail page shows it: the record, its chain, and who asked for it. */
export interface CertificateDetail {
  record: CertificateRecord;
  /** the intermediate(s) that follow it */
  chainPem: string;
  /** the token that asked for it, by name, or the ACME account and its EAB */
  requester: { token: string } | { acmeAccount: string; eab: string | null } | { serving: true } | null;
  /** the certificate that renewed this one, if any */
  renewedBy: string | null;
}

/** What the overview shows of the inventory. */
export interface OverviewFigures {
  /** certificates in each state (core/inventory.ts stateOf) at `now` */
  counts: Record<InventoryState, number>;
  timeline: Omit<ExpiryTimeline, "counts">;
  /** when these figures were read */
  at: number;
}

/** What the dashboard needs beyond the API's parts; main builds it (ui-parts.ts). */
export interface UiDeps {
  sessions: {
    create(s: SessionRecord): Promise<void>;
    find(idHash: string): Promise<SessionRecord | null>;
    touch(idHash: string, at: number): Promise<void>;
    remove(idHash: string): Promise<void>;
  };
  overview(now: number, days: number): Promise<OverviewFigures>;
  certificate(serial: string): Promise<CertificateDetail | null>;
  tokens: {
    list(): Promise<TokenRecord[]>;
    create(req: NewTokenRequest, actor: Actor): Promise<{ record: TokenRecord; secret: string }>;
    revoke(name: string, actor: Actor): Promise<void>;
    /** the id of the token with this name or id, or null */
    idOf(nameOrId: string): Promise<string | null>;
  };
  eabs: {
    list(): Promise<{ eab: EabRecord; accounts: number }[]>;
    create(req: NewEabRequest, actor: Actor): Promise<{ record: EabRecord; hmac: string }>;
    revoke(name: string, actor: Actor): Promise<void>;
  };
  /** every host's stored report (without the newest-certificate lookups of deps.hosts) */
  hostReports(): Promise<HostRecord[]>;
  /** appends an event to the audit trail (logins and logouts) */
  audit(e: AuditEntry): Promise<void>;
  /** one page of the audit trail, oldest first after `afterId` (audit/service.ts: the filters as text) */
  auditEvents(q: AuditSearch & { afterId?: number; limit: number }): Promise<AuditEvent[]>;
  /** the current CRL's times, or null before the first one */
  crl(): Promise<Pick<CrlRecord, "number" | "thisUpdate" | "nextUpdate"> | null>;
  /** the CA's public URL, for the join strings the token page makes */
  url: string;
}

export type DashboardDeps = AppDeps & { ui: UiDeps };

/** The dashboard session of a request: the hash it is stored by, and its CSRF token. */
export interface UiSession {
  idHash: string;
  csrf: string;
}

export type UiEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { session: UiSession };
};
