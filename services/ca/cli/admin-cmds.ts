import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";
import { encodeJoin } from "../../../shared/join.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { formatDnsPattern, formatIpRange } from "../core/names.js";
import { normalizeSerial, parseReason } from "../core/types.js";
import { certificateView } from "../core/views.js";
import { caPaths } from "../keys/paths.js";
import { openParts, type Parts } from "../server.js";
import { checkTokenRequest } from "../tokens/requests.js";

/** Runs a command on the parts of the data directory's CA, and closes them. */
function withParts<T>(dataDir: string, run: (parts: Parts) => T): T {
  const parts = openParts(dataDir);
  try {
    return run(parts);
  } finally {
    parts.close();
  }
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

/** A join string is what people paste into chat: unless told otherwise it enrols one host within a day. */
const JOIN_DEFAULTS = { uses: 1, expires: "24h" } as const;

export function tokenCreate(o: TokenCreateOpts): string {
  const uses = o.uses === undefined ? undefined : Number(o.uses);
  if (uses !== undefined && (!Number.isInteger(uses) || uses < 1))
    throw new InputError("--uses takes a positive integer");
  const req = {
    name: o.name,
    dns: o.dns ?? [],
    ip: o.ip ?? [],
    maxValidity: o.maxValidity,
    expires: o.expires ?? (o.join ? JOIN_DEFAULTS.expires : undefined),
    uses: uses ?? (o.join ? JOIN_DEFAULTS.uses : undefined),
    rate: o.rate,
  };
  // Bad input is reported before a missing CA or URL is.
  checkTokenRequest(req, Date.now());
  const joinUrl = o.join ? caUrl(o.data, o.url) : undefined;
  const { secret } = withParts(o.data, (parts) => parts.tokens.create(req));
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
  return withParts(o.data, (parts) => {
    const rows = parts.tokens.list();
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
  });
}

export function tokenRevoke(o: { data: string; name: string }): void {
  withParts(o.data, (parts) => parts.tokens.revoke(o.name));
}

export function certsList(o: { data: string; expiring?: string; json?: boolean }): string {
  const expiringBefore = o.expiring === undefined ? undefined : Date.now() + parseDuration(o.expiring);
  return withParts(o.data, (parts) => {
    const rows = parts.certificates.list({ expiringBefore }).map(certificateView);
    if (o.json) return JSON.stringify(rows, null, 2);
    const lines = rows.map((r) => [r.serial, r.notAfter, [...r.dns, ...r.ips].join(",")].join("\t"));
    return ["SERIAL\tNOT_AFTER\tNAMES", ...lines].join("\n");
  });
}

export function revokeSerial(o: { data: string; serial: string; reason?: string }): void {
  const serial = normalizeSerial(o.serial);
  const reason = parseReason(o.reason);
  withParts(o.data, (parts) => parts.certificates.revoke(serial, reason));
}
