/**
 * Fills a stopped CA's inventory with realistic rows straight through better-sqlite3: one
 * transaction, one prepared INSERT per table (columns from migrations/0000_init.sql, and the
 * names each certificate is found by, from 0006, as the store writes them).
 */
import { randomBytes, randomInt } from "node:crypto";
import Database from "better-sqlite3";
import { serialBytes } from "../services/ca/authority/signing.js";

const DAY_MS = 86_400_000;
const LIFETIME_MS = 30 * DAY_MS;

export interface FillResult {
  rows: number;
  seconds: number;
  totalRows: number;
}

/** `rows` certificates of the given token, not_after spread over the next 90 days. */
export function fillInventory(dbPath: string, tokenName: string, rows: number): FillResult {
  const db = new Database(dbPath);
  try {
    db.pragma("journal_mode = WAL");
    // a million rows overflow SQLite's default 2 MB page cache many times over: spilled pages
    // are written to the WAL again at each spill, which took over 40 minutes on a loaded disk
    db.pragma("cache_size = -1048576");
    const token = db.prepare("SELECT id FROM tokens WHERE name = ?").get(tokenName);
    const tokenId = isIdRow(token) ? token.id : null;
    const insert = db.prepare(
      `INSERT INTO certificates (serial, token_id, renewed_from, common_name, dns_names, ip_addresses,
         not_before, not_after, key_fingerprint, pem, created_at, revoked_at, revocation_reason)
       VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
    );
    const insertName = db.prepare("INSERT INTO certificate_names (name, not_after, serial) VALUES (?, ?, ?)");
    const now = Date.now();
    const started = process.hrtime.bigint();
    // in order of expiry (and so of serial, made from the time before it): the indexes led by
    // not_after, and the serials, grow at their ends as serve's do, instead of at random pages
    const expiries = Array.from({ length: rows }, () => now + randomInt(90 * DAY_MS)).sort((a, b) => a - b);
    db.transaction(() => {
      for (let i = 0; i < rows; i++) {
        const host = `host-${i}.registry.lan`;
        const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const notAfter = expiries[i] ?? now;
        const notBefore = notAfter - LIFETIME_MS;
        // as serve makes them (authority/signing.ts), from the time it would have issued it
        const serial = serialBytes(notBefore).toString("hex");
        insert.run(
          serial,
          tokenId,
          host,
          JSON.stringify([host]),
          JSON.stringify([ip]),
          notBefore,
          notAfter,
          randomBytes(32).toString("hex"),
          fakePem(),
          notBefore,
        );
        insertName.run(host, notAfter, serial);
        insertName.run(ip, notAfter, serial);
      }
    })();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const count = db.prepare("SELECT count(*) AS n FROM certificates").get();
    db.pragma("wal_checkpoint(TRUNCATE)");
    return { rows, seconds, totalRows: isCountRow(count) ? count.n : Number.NaN };
  } finally {
    db.close();
  }
}

/** PEM-sized text (~800 bytes), like a P-256 leaf: 560 random bytes in 64-column base64 lines. */
function fakePem(): string {
  const b64 = randomBytes(560).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

function isIdRow(row: unknown): row is { id: string } {
  return typeof row === "object" && row !== null && "id" in row && typeof row.id === "string";
}

function isCountRow(row: unknown): row is { n: number } {
  return typeof row === "object" && row !== null && "n" in row && typeof row.n === "number";
}

/** A name and an address that fillInventory gave one certificate out of `rows`, to search for. */
export function fillSample(rows: number): { name: string; ip: string } {
  const i = Math.floor(rows / 2);
  return { name: `host-${i}.registry.lan`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
}
