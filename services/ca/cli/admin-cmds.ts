import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseDuration } from "../../../shared/duration.js";
import { encodeJoin } from "../../../shared/join.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { formatDnsPattern, formatIpRange } from "../core/names.js";
import { normalizeSerial, parseReason } from "../core/types.js";
import { caPaths, requireInitialised } from "../keys/paths.js";
import { openStore } from "../store/index.js";
import { tokenService } from "../tokens/service.js";
import { certificateView } from "../views.js";

/** Commands that work on the data directory directly, safe while `serve` runs (WAL + busy timeout). */
function store(dataDir: string) {
  const paths = caPaths(dataDir);
  requireInitialised(paths);
  return openStore(paths.database);
}

export interface TokenCreateOpts {
  data: string;
  name: string;
  dns?: string[];
  ip?: string[];
  maxValidity?: string;
  expires?: string;
  uses?: string;
  rate?: string;
  join?: boolean;
  url?: string;
}

export function tokenCreate(o: TokenCreateOpts): string {
  const uses = o.uses === undefined ? undefined : Number(o.uses);
  if (uses !== undefined && (!Number.isInteger(uses) || uses < 1))
    throw new RangeError("--uses takes a positive integer");
  const joinUrl = o.join ? caUrl(o.data, o.url) : undefined;
  const s = store(o.data);
  let secret: string;
  try {
    ({ secret } = tokenService(s.tokens, Date.now).create({
      name: o.name,
      dns: o.dns ?? [],
      ip: o.ip ?? [],
      maxValidity: o.maxValidity,
      expires: o.expires,
      uses,
      rate: o.rate,
    }));
  } finally {
    s.close();
  }
  if (joinUrl === undefined) return secret;
  const root = certificatesFromPem(readFileSync(caPaths(o.data).rootCert, "utf8"))[0];
  if (!root) throw new Error("cannot read the root certificate");
  return encodeJoin({ url: joinUrl, fingerprint: fingerprint(root), token: secret });
}

/** The CA's public URL: --url, else what `serve` recorded at its last start. */
function caUrl(dataDir: string, url: string | undefined): string {
  if (url) return url.replace(/\/$/, "");
  const recorded = join(dataDir, "serve.json");
  if (!existsSync(recorded))
    throw new Error("give --url (the CA's public URL): serve has not run on this data directory");
  return z.object({ url: z.string() }).parse(JSON.parse(readFileSync(recorded, "utf8"))).url;
}

export function tokenList(o: { data: string; json?: boolean }): string {
  const s = store(o.data);
  try {
    const rows = tokenService(s.tokens, Date.now).list();
    if (o.json)
      return JSON.stringify(
        rows.map(({ secretHash: _h, ...t }) => t),
        null,
        2,
      );
    const now = Date.now();
    const lines = rows.map((t) => {
      const state =
        t.revokedAt !== null
          ? "revoked"
          : t.expiresAt !== null && t.expiresAt <= now
            ? "expired"
            : t.usesLeft === 0
              ? "used-up"
              : "active";
      const names = [...t.policy.dns.map(formatDnsPattern), ...t.policy.ips.map(formatIpRange)].join(",");
      const uses = t.usesLeft === null ? "unlimited" : String(t.usesLeft);
      const expires = t.expiresAt === null ? "never" : new Date(t.expiresAt).toISOString();
      return [t.name, state, names, `uses=${uses}`, `expires=${expires}`].join("\t");
    });
    return ["NAME\tSTATE\tNAMES\tUSES\tEXPIRES", ...lines].join("\n");
  } finally {
    s.close();
  }
}

export function tokenRevoke(o: { data: string; name: string }): void {
  const s = store(o.data);
  try {
    tokenService(s.tokens, Date.now).revoke(o.name);
  } finally {
    s.close();
  }
}

export function certsList(o: { data: string; expiring?: string; json?: boolean }): string {
  const expiringBefore = o.expiring === undefined ? undefined : Date.now() + parseDuration(o.expiring);
  const s = store(o.data);
  try {
    const rows = s.certificates.list({ expiringBefore }).map(certificateView);
    if (o.json) return JSON.stringify(rows, null, 2);
    const lines = rows.map((r) => [r.serial, r.notAfter, [...r.dns, ...r.ips].join(",")].join("\t"));
    return ["SERIAL\tNOT_AFTER\tNAMES", ...lines].join("\n");
  } finally {
    s.close();
  }
}

export function revokeSerial(o: { data: string; serial: string; reason?: string }): void {
  const serial = normalizeSerial(o.serial);
  const reason = parseReason(o.reason);
  const s = store(o.data);
  try {
    const res = s.certificates.revoke(serial, reason, Date.now());
    if (res === "missing") throw new Error(`no certificate with serial ${serial}`);
    if (res === "already") throw new Error(`certificate ${serial} is already revoked`);
  } finally {
    s.close();
  }
}
