import { hash } from "node:crypto";
import { formatDnsPattern, formatIpRange } from "./names.js";
import type { Policy } from "./policy.js";
import { REVOCATION_REASONS } from "./types.js";

/*
 * The audit trail's events and their hash chain, pure: the store keeps the rows, this file says
 * what a row is, how its hash is made and what a broken chain looks like.
 *
 * Each event's hash is SHA-256 over the previous event's hash and a canonical encoding of the
 * event (canonicalJson: keys sorted, no whitespace). The first event's previous hash is
 * GENESIS. Ids are allocated by the database and never reused (SQLite AUTOINCREMENT), so a gap
 * in the ids is a deleted row, and an id allocated beyond the last row is a row deleted from the
 * end. The id is not hashed: the chain's order is the ids' order, and a row moved elsewhere in
 * it no longer follows the hash it names.
 *
 * What the chain proves: a row edited, deleted or moved without recomputing every hash after it
 * is found. Someone who can write the database can also recompute the chain; what protects
 * against that is the head's hash kept somewhere else (`audit verify` prints it).
 */

export const GENESIS = "0".repeat(64);

/** Who did it. */
export const ACTOR_KINDS = [
  /** an enrolment token, by name */
  "token",
  /** a certificate presented over mutual TLS, by serial */
  "certificate",
  /** an ACME account, by id */
  "acme-account",
  /** the admin token over HTTP */
  "admin",
  /** a dashboard session, by the first characters of its id's hash */
  "session",
  /** a CLI command on the data directory, by the operating system's user name */
  "cli",
  /** a client address (failed authentications) */
  "address",
  /** the CA itself (its own serving certificate) */
  "ca",
] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];
export interface Actor {
  kind: ActorKind;
  id: string;
}
/** A dashboard session by the first 12 hex characters of its stored hash (not its secret). */
export const sessionActor = (idHash: string): Actor => ({ kind: "session", id: idHash.slice(0, 12) });
/** the admin token over HTTP (there is one) */
export const ADMIN_ACTOR: Actor = { kind: "admin", id: "admin" };

export const AUDIT_TYPES = [
  "token.created",
  "token.revoked",
  "eab.created",
  "eab.revoked",
  "certificate.issued",
  "certificate.renewed",
  "certificate.revoked",
  /** failed authentications from one address, aggregated over a window (see authFailures) */
  "auth.failed",
  "dashboard.login",
  "dashboard.logout",
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** An event as its writer describes it; the store adds the id and the chain. */
export interface AuditEntry {
  /** ms since the epoch */
  at: number;
  type: AuditType;
  actor: Actor;
  /** what it happened to: a token or EAB name, a serial, an address; null when nothing */
  subject: string | null;
  details: { [key: string]: Json };
}

export interface AuditEvent extends AuditEntry {
  id: number;
  prevHash: string;
  hash: string;
}

/**
 * JSON with object keys in code-point order and no whitespace: the same value, the same text.
 * Built in one string, without an array per object or list (sealing an issuance's event runs it
 * once per issuance); its text is pinned by the audit test's hashes, so chains written before
 * verify the same: a key whose value is undefined is left out, an undefined element of a list
 * is written as nothing ("[null,]").
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value))
      throw new Error("audit: a number must be finite");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let text = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ",";
      const v = value[i];
      if (v !== undefined) text += canonicalJson(v);
    }
    return `${text}]`;
  }
  let text = "";
  for (const k of Object.keys(value).sort()) {
    const v = value[k];
    if (v === undefined) continue;
    text += `${text === "" ? "" : ","}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `{${text}}`;
}

/** The hash of an event that follows `prevHash`. */
export function eventHash(prevHash: string, e: AuditEntry): string {
  return sealEvent(prevHash, e).hash;
}

/**
 * An event's details as stored (canonical JSON) and its hash after `prevHash`, the details
 * encoded once for both. The hash is SHA-256 over `prevHash`, a newline and the canonical JSON
 * of { at, type, actor: { kind, id }, subject, details }; that text is put together here field by
 * field, in canonicalJson's key order, rather than by sorting the keys of a fresh object (the
 * same text, so chains written before verify the same), and hashed in one call.
 */
export function sealEvent(prevHash: string, e: AuditEntry): { details: string; hash: string } {
  const details = canonicalJson(e.details);
  // keys in code-point order: actor (id, kind), at, details, subject, type; canonicalJson
  // leaves out a key whose value is undefined, and so does joined()
  const actor = joined(field("id", e.actor.id), field("kind", e.actor.kind));
  const body = joined(
    joined(`"actor":{${actor}}`, field("at", e.at)),
    joined(joined(`"details":${details}`, field("subject", e.subject)), field("type", e.type)),
  );
  return { details, hash: hash("sha256", `${prevHash}\n{${body}}`, "hex") };
}

/** `"key":value`, the value as canonicalJson writes it; nothing when it is undefined. */
function field(key: string, value: Json | undefined): string {
  return value === undefined ? "" : `"${key}":${canonicalJson(value)}`;
}

/** Two members with a comma between them, or the one that is there. */
function joined(a: string, b: string): string {
  return a === "" ? b : b === "" ? a : `${a},${b}`;
}

export type ChainFault =
  | { kind: "edited"; id: number; message: string }
  | { kind: "deleted"; id: number; message: string }
  | { kind: "reordered"; id: number; message: string };

export type ChainVerdict = { ok: true; count: number; head: string } | { ok: false; fault: ChainFault };

export interface ChainSource {
  /** events in id order, a page at a time */
  events(): AsyncIterable<AuditEvent[]>;
  /** the id of the event whose hash this is, if any (to tell a moved row from a deleted one) */
  idOfHash(hash: string): Promise<number | null>;
  /** the highest id the database ever allocated (0: none) */
  lastAllocatedId(): Promise<number>;
}

/**
 * Walks the chain from the first event and names the first fault: an event whose hash does not
 * match its contents (edited), a gap in the ids or a missing tail (deleted), an event that does
 * not follow the one before it (reordered when the hash it names is elsewhere in the chain,
 * deleted when it is nowhere).
 */
export async function verifyChain(src: ChainSource): Promise<ChainVerdict> {
  let prev = GENESIS;
  let prevId = 0;
  let count = 0;
  for await (const page of src.events()) {
    for (const e of page) {
      if (e.id !== prevId + 1) {
        const gap = e.id - prevId - 1;
        return fault(
          "deleted",
          prevId + 1,
          gap === 1
            ? `event ${prevId + 1} was deleted (event ${e.id} follows ${prevId === 0 ? "the start" : `event ${prevId}`})`
            : `events ${prevId + 1} to ${e.id - 1} were deleted (event ${e.id} follows ${prevId === 0 ? "the start" : `event ${prevId}`})`,
        );
      }
      if (eventHash(e.prevHash, e) !== e.hash)
        return fault(
          "edited",
          e.id,
          `event ${e.id} (${e.type}) was edited: its hash does not match its contents`,
        );
      if (e.prevHash !== prev) {
        const named = e.prevHash === GENESIS ? 0 : await src.idOfHash(e.prevHash);
        if (named !== null)
          return fault(
            "reordered",
            e.id,
            `event ${e.id} (${e.type}) is out of order: it follows ${named === 0 ? "the start" : `event ${named}`}, not ${prevId === 0 ? "the start" : `event ${prevId}`}`,
          );
        return fault(
          "deleted",
          e.id,
          `the event before event ${e.id} (${e.type}) was deleted or replaced: the hash it follows is not in the trail`,
        );
      }
      prev = e.hash;
      prevId = e.id;
      count++;
    }
  }
  const allocated = await src.lastAllocatedId();
  if (allocated > prevId)
    return fault(
      "deleted",
      prevId + 1,
      allocated === prevId + 1
        ? `event ${allocated}, the last one, was deleted`
        : `events ${prevId + 1} to ${allocated}, the last ones, were deleted`,
    );
  return { ok: true, count, head: prev };
}

function fault(kind: ChainFault["kind"], id: number, message: string): ChainVerdict {
  return { ok: false, fault: { kind, id, message } };
}

/** The RFC 5280 5.3.1 reason's name, as `revoke --reason` takes it, or its code when it has none. */
function reasonName(code: number): string {
  return Object.entries(REVOCATION_REASONS).find(([, c]) => c === code)?.[0] ?? String(code);
}

export function revocationEvent(serial: string, reason: number, at: number, actor: Actor): AuditEntry {
  return { at, type: "certificate.revoked", actor, subject: serial, details: { reason: reasonName(reason) } };
}

/** A credential's policy as its events record it (patterns and ranges as written, max validity in ms). */
export function policyDetails(p: Policy): { [key: string]: Json } {
  return { dns: p.dns.map(formatDnsPattern), ip: p.ips.map(formatIpRange), maxValidityMs: p.maxValidityMs };
}

/**
 * Failed authentications from one client address, as every process on the database counts them
 * together (audit/failures.ts, store/failure-tallies.ts) until they become one `auth.failed` event.
 */
export interface FailureTally {
  address: string;
  /** ms since the epoch: the first and last attempt counted */
  firstAt: number;
  lastAt: number;
  failures: number;
  /** requests refused with 429 because the address had failed too often */
  limited: number;
  /** the first few token names (or ids) tried and reasons given: at most TALLY_KEPT each */
  tokens: string[];
  reasons: string[];
}

/** At most this many token names and reasons are kept per event (a flood may try thousands). */
export const TALLY_KEPT = 10;

const firstKept = (a: readonly string[], b: readonly string[]) =>
  [...new Set([...a, ...b])].slice(0, TALLY_KEPT);

/** Two tallies of one address as one: the counts added, the times' span, the names kept first. */
export function mergeTallies(a: FailureTally, b: FailureTally): FailureTally {
  return {
    address: a.address,
    firstAt: Math.min(a.firstAt, b.firstAt),
    lastAt: Math.max(a.lastAt, b.lastAt),
    failures: a.failures + b.failures,
    limited: a.limited + b.limited,
    tokens: firstKept(a.tokens, b.tokens),
    reasons: firstKept(a.reasons, b.reasons),
  };
}

/** The `auth.failed` event of a tally, at its last attempt. */
export function authFailedEvent(t: FailureTally): AuditEntry {
  return {
    at: t.lastAt,
    type: "auth.failed",
    actor: { kind: "address", id: t.address },
    subject: null,
    details: {
      failures: t.failures,
      limited: t.limited,
      from: new Date(t.firstAt).toISOString(),
      to: new Date(t.lastAt).toISOString(),
      tokens: t.tokens,
      reasons: t.reasons,
    },
  };
}

/**
 * A dashboard login or logout, by the session's stored hash (its actor id is the first 12
 * characters: sessionActor); `address`: the client's.
 */
export function dashboardEvent(
  type: "dashboard.login" | "dashboard.logout",
  sessionIdHash: string,
  address: string,
  at: number,
): AuditEntry {
  return { at, type, actor: sessionActor(sessionIdHash), subject: null, details: { address } };
}
