import { parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";
import { canonicalIp, ipFamily } from "./names.js";
import { type CertificateRecord, normalizeSerial } from "./types.js";

/**
 * Searching the inventory: the same filters for GET /v1/certs and `certyard-ca certs list`, read
 * in pages in the order of expiry, each page continuing after the last row of the one before
 * (a cursor, not an offset: a page costs the same at the millionth row as at the first).
 */

/** valid: in force; superseded: in force but renewed; expired; revoked (whatever its expiry). */
export const INVENTORY_STATES = ["valid", "superseded", "expired", "revoked"] as const;
export type InventoryState = (typeof INVENTORY_STATES)[number];

/** Without a state filter, the inventory lists what has not been revoked, as it always has. */
export const DEFAULT_STATES: readonly InventoryState[] = ["valid", "superseded", "expired"];

export const PAGE_LIMIT = { default: 100, max: 1000 } as const;

/** Where a page starts: after this certificate in the order (notAfter, serial). */
export interface InventoryCursor {
  notAfter: number;
  serial: string;
}

export interface InventoryFilter {
  /** the CA's now, which tells valid from expired */
  now: number;
  states: readonly InventoryState[];
  /** only those whose notAfter is at or before this */
  expiringBefore?: number;
  /** a DNS name (lower case) or an IP address (in the inventory's text form) the certificate carries */
  name?: string;
  tokenId?: string;
  serial?: string;
}

export interface InventoryQuery extends InventoryFilter {
  after?: InventoryCursor;
  limit: number;
}

/** The columns of a certificate's row that make its record, in the order the stores read and write them. */
export const RECORD_COLUMNS = [
  "serial",
  "tokenId",
  "renewedFrom",
  "commonName",
  "dnsNames",
  "ipAddresses",
  "notBefore",
  "notAfter",
  "keyFingerprint",
  "pem",
  "createdAt",
  "revokedAt",
  "revocationReason",
] as const satisfies readonly (keyof CertificateRecord)[];

/** What a row of the inventory shows of a certificate (its PEM is not read), and its state then. */
export const INVENTORY_COLUMNS = [
  "serial",
  "tokenId",
  "renewedFrom",
  "commonName",
  "dnsNames",
  "ipAddresses",
  "notBefore",
  "notAfter",
  "keyFingerprint",
  "revokedAt",
] as const satisfies readonly (keyof CertificateRecord)[];
export type InventoryRow = Pick<CertificateRecord, (typeof INVENTORY_COLUMNS)[number]> & {
  state: InventoryState;
};

export interface InventoryPage {
  rows: InventoryRow[];
  /** where the next page starts, or null when this one is the last */
  next: InventoryCursor | null;
}

/** The filters as a person or a client gives them, every one optional text. */
export interface InventoryParams {
  expiring?: string;
  state?: string;
  name?: string;
  ip?: string;
  serial?: string;
  limit?: string;
  cursor?: string;
}

/** Every parameter of a search, the token filter included (looked up by the caller). */
export const INVENTORY_PARAMS = [
  "expiring",
  "state",
  "name",
  "ip",
  "serial",
  "token",
  "limit",
  "cursor",
] as const;

/**
 * Reads the text filters into a query; a token filter (by name) is looked up by the caller.
 * Bad input is an InputError naming the parameter.
 */
export function parseInventoryParams(p: InventoryParams, now: number): Omit<InventoryQuery, "tokenId"> {
  const query: Omit<InventoryQuery, "tokenId"> = {
    now,
    states: p.state === undefined ? DEFAULT_STATES : parseStates(p.state),
    limit: p.limit === undefined ? PAGE_LIMIT.default : parseLimit(p.limit),
  };
  if (p.expiring !== undefined) query.expiringBefore = now + parseDuration(p.expiring);
  if (p.name !== undefined && p.ip !== undefined) throw new InputError("give name or ip, not both");
  if (p.name !== undefined) query.name = inventoryName(p.name);
  if (p.ip !== undefined) {
    if (ipFamily(p.ip.trim()) === null) throw new InputError(`ip: "${p.ip}" is not an IP address`);
    query.name = inventoryName(p.ip);
  }
  if (p.serial !== undefined) query.serial = normalizeSerial(p.serial);
  if (p.cursor !== undefined) query.after = decodeCursor(p.cursor);
  return query;
}

/** A name as the inventory keeps it: DNS names in lower case, IP addresses in their canonical text. */
export function inventoryName(text: string): string {
  const name = text.trim();
  if (name === "") throw new InputError("name: empty");
  if (ipFamily(name) !== null) return canonicalIp(name);
  return name.toLowerCase();
}

/** The names a certificate is found by, each once. */
export function namesOf(rec: Pick<CertificateRecord, "dnsNames" | "ipAddresses">): string[] {
  return [...new Set([...rec.dnsNames.map((n) => n.toLowerCase()), ...rec.ipAddresses])];
}

function parseStates(text: string): InventoryState[] {
  if (text.trim() === "all") return [...INVENTORY_STATES];
  const states = text.split(",").map((s) => s.trim());
  for (const s of states) {
    if (!(INVENTORY_STATES as readonly string[]).includes(s)) {
      throw new InputError(`state: "${s}" is not one of ${INVENTORY_STATES.join(", ")} or all`);
    }
  }
  return [...new Set(states)] as InventoryState[];
}

function parseLimit(text: string): number {
  const n = /^\d{1,7}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= PAGE_LIMIT.max))
    throw new InputError(`limit: "${text}" is not a number from 1 to ${PAGE_LIMIT.max}`);
  return n;
}

/** An opaque cursor: base64url of "notAfter.serial". */
export function encodeCursor(c: InventoryCursor): string {
  return Buffer.from(`${c.notAfter}.${c.serial}`).toString("base64url");
}

export function decodeCursor(text: string): InventoryCursor {
  const m = /^(\d{1,16})\.([0-9a-f]{2,64})$/.exec(Buffer.from(text, "base64url").toString("latin1"));
  if (!m?.[1] || !m[2] || !/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new InputError("cursor: not a cursor this CA gave out (pass the `next` of the page before)");
  }
  return { notAfter: Number(m[1]), serial: m[2] };
}

/** The state of a record at `now`, given whether a renewal of it exists. */
export function stateOf(
  rec: Pick<CertificateRecord, "revokedAt" | "notAfter">,
  renewed: boolean,
  now: number,
): InventoryState {
  if (rec.revokedAt !== null) return "revoked";
  if (rec.notAfter <= now) return "expired";
  return renewed ? "superseded" : "valid";
}
