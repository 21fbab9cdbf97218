import { type InventoryRow, type InventoryState, stateOf } from "./inventory.js";
import { formatDnsPattern, formatIpRange } from "./names.js";
import type { TokenRecord } from "./types.js";

/**
 * The JSON shapes of inventory rows and tokens, shared by the HTTP API and the CLI (`certs list
 * --json` prints the inventory's rows through certificateViewsText below).
 */
export function certificateView(r: InventoryRow) {
  return {
    serial: r.serial,
    commonName: r.commonName,
    dns: r.dnsNames,
    ips: r.ipAddresses,
    notBefore: new Date(r.notBefore).toISOString(),
    notAfter: new Date(r.notAfter).toISOString(),
    keySha256: r.keyFingerprint,
    tokenId: r.tokenId,
    renewedFrom: r.renewedFrom,
    revoked: r.revokedAt !== null,
    state: r.state,
  };
}

/**
 * Rows as JSON.stringify(all, null, 2) prints them inside its array: each certificateView an
 * element, separated by ",\n", without the brackets ("" for none). `certs list --json` prints a
 * page at a time this way. The text is put together here, not by JSON.stringify of the views:
 * no object per row, no array per page, and the strings a certificate has (hex, names, dates)
 * need no escaping, which is checked per string (anything else goes through JSON.stringify); the
 * dates by isoTimes. 78,000 rows in pages of 1,000, text and its UTF-8 bytes: 450-500 -> 210-300 ms
 * of CPU (load average 15). The unit tests hold it to JSON.stringify's bytes.
 */
export function certificateViewsText(rows: readonly InventoryRow[]): string {
  const row = rowText();
  let text = "";
  for (let i = 0; i < rows.length; i++) text += `${i === 0 ? "" : ",\n"}${row(rows[i] as InventoryRow)}`;
  return text;
}

/**
 * certificateViewsText's text in UTF-8, for a writer (`certs list --json`): each row's text is
 * encoded as soon as it is made. Encoding a page's text at once first makes one string of its
 * thousands of pieces, which cost as much CPU as putting the text together.
 */
export function certificateViewsBytes(rows: readonly InventoryRow[]): Buffer {
  const row = rowText();
  let out = Buffer.allocUnsafe(rows.length * 512);
  let at = 0;
  for (let i = 0; i < rows.length; i++) {
    const text = `${i === 0 ? "" : ",\n"}${row(rows[i] as InventoryRow)}`;
    // a UTF-16 unit takes at most 3 bytes of UTF-8
    if (at + text.length * 3 > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + text.length * 3));
      out.copy(bigger, 0, 0, at);
      out = bigger;
    }
    at += out.write(text, at, "utf8");
  }
  return out.subarray(0, at);
}

/**
 * A row of the inventory whose JSON text the database made but for the times and the state
 * (PostgreSQL, store/pg/certificates.ts jsonText): `head` is its element from `  {\n    "serial": `
 * to the closing bracket of "ips"; `key` the value of "keySha256" to that of "renewedFrom", with
 * the members between (`"...",\n    "tokenId": ...`).
 */
export type RowPieces = readonly [
  head: string,
  notBefore: number,
  notAfter: number,
  key: string,
  revokedAt: number | null,
  renewed: boolean,
];

/**
 * A RowPieces row's element of certs list --json's array (certificateViewsText's, without the
 * separator), its state at `now`: the same text (the e2e pg-inventory test holds them equal).
 */
export function rowPiecesText(now: number): (r: RowPieces) => string {
  const notBefore = isoTimes();
  const notAfter = isoTimes();
  return ([head, before, after, key, revokedAt, renewed]) =>
    `${head},\n    "notBefore": "${notBefore(before)}",\n    "notAfter": "${notAfter(after)}",\n    "keySha256": ${key},\n    "revoked": ${revokedAt !== null},\n    "state": "${stateOf({ revokedAt, notAfter: after }, renewed, now)}"\n  }`;
}

/** The first line of `certs list` (without --json). */
export const TABLE_HEADER = "SERIAL\tNOT_AFTER\tSTATE\tNAMES\n";

/** A line of `certs list`'s table: `names` the DNS names, then the IP addresses, joined by commas. */
export function tableLine(): (
  serial: string,
  notAfter: number,
  state: InventoryState,
  names: string,
) => string {
  const iso = isoTimes();
  return (serial, notAfter, state, names) => `${serial}\t${iso(notAfter)}\t${state}\t${names}\n`;
}

/** The table's lines of `rows`. */
export function tableText(rows: readonly InventoryRow[]): string {
  const line = tableLine();
  let text = "";
  for (const r of rows)
    text += line(r.serial, r.notAfter, r.state, [...r.dnsNames, ...r.ipAddresses].join(","));
  return text;
}

/** One row's element of the array, as JSON.stringify(.., null, 2) prints it. */
function rowText(): (r: InventoryRow) => string {
  const notBefore = isoTimes();
  const notAfter = isoTimes();
  return (r) =>
    `  {\n    "serial": ${str(r.serial)},\n    "commonName": ${strOrNull(r.commonName)},\n    "dns": ${list(r.dnsNames)},\n    "ips": ${list(r.ipAddresses)},\n    "notBefore": "${notBefore(r.notBefore)}",\n    "notAfter": "${notAfter(r.notAfter)}",\n    "keySha256": ${str(r.keyFingerprint)},\n    "tokenId": ${strOrNull(r.tokenId)},\n    "renewedFrom": ${strOrNull(r.renewedFrom)},\n    "revoked": ${r.revokedAt !== null},\n    "state": "${r.state}"\n  }`;
}

const DAY_MS = 86_400_000;
/** The first millisecond of year 10000: before it, toISOString writes a four-digit year. */
const YEAR_10000 = 253_402_300_800_000;
const pad = (n: number, width: number) => String(n).padStart(width, "0");
const TWO = Array.from({ length: 60 }, (_, i) => pad(i, 2));
const THREE = Array.from({ length: 1000 }, (_, i) => pad(i, 3));

/**
 * new Date(ms).toISOString(), a third of the cost: the date part is made once per day (the rows
 * come in the order of expiry, so a day's rows follow each other), the time of day from tables.
 */
function isoTimes(): (ms: number) => string {
  let day = Number.NaN;
  let prefix = "";
  return (ms) => {
    if (!(Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000)) return new Date(ms).toISOString();
    const d = Math.floor(ms / DAY_MS);
    if (d !== day) {
      day = d;
      prefix = new Date(d * DAY_MS).toISOString().slice(0, 11);
    }
    let rest = ms - d * DAY_MS;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const sec = Math.floor(rest / 1000);
    return `${prefix}${TWO[h]}:${TWO[m]}:${TWO[sec]}.${THREE[rest - sec * 1000]}Z`;
  };
}

/** Printable ASCII but `"` and `\\`: JSON.stringify writes such a string as it is, in quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as JSON.stringify writes it. */
function str(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

function strOrNull(s: string | null): string {
  return s === null ? "null" : str(s);
}

/** An array of strings as JSON.stringify(.., null, 2) writes it as a member of an element. */
function list(a: readonly string[]): string {
  if (a.length === 0) return "[]";
  let text = "[";
  for (let i = 0; i < a.length; i++) text += `${i === 0 ? "" : ","}\n      ${str(a[i] as string)}`;
  return `${text}\n    ]`;
}

export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    dns: t.policy.dns.map(formatDnsPattern),
    ip: t.policy.ips.map(formatIpRange),
    maxValidityMs: t.policy.maxValidityMs,
    expiresAt: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
    usesLeft: t.usesLeft,
    rate: { limit: t.rateLimit, windowMs: t.rateWindowMs },
    revoked: t.revokedAt !== null,
  };
}
