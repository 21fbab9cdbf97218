import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../../../shared/errors.js";
import { encodeJoin } from "../../../shared/join.js";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { formatDnsPattern, formatIpRange } from "../core/names.js";
import { normalizeSerial, parseReason } from "../core/types.js";
import { caPaths } from "../keys/paths.js";
import { openParts, type Parts } from "../parts.js";
import { checkTokenRequest } from "../tokens/requests.js";
import { cliActor, type DataOpts, dataPaths } from "./options.js";

/** Runs a command on the parts of the CA (its data directory and database), and closes them. */
async function withParts<T>(o: DataOpts, run: (parts: Parts) => Promise<T>): Promise<T> {
  const parts = await openParts(dataPaths(o));
  try {
    return await run(parts);
  } finally {
    await parts.close();
  }
}

export interface TokenCreateOpts extends DataOpts {
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

export async function tokenCreate(o: TokenCreateOpts): Promise<string> {
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
  const { secret } = await withParts(o, (parts) => parts.tokens.create(req, cliActor()));
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

/**
 * `admin-token new`: a new admin token in DATA/admin-token, the old one ended (on every replica
 * of the database: serve refuses to do that by itself, tokens/admin.ts). Returns the file's path.
 */
export async function adminTokenNew(o: DataOpts): Promise<string> {
  const paths = dataPaths(o);
  await withParts(o, (parts) => parts.tokens.resetAdmin(paths.adminToken));
  return paths.adminToken;
}

export function tokenList(o: DataOpts & { json?: boolean }): Promise<string> {
  return withParts(o, async (parts) => {
    const rows = await parts.tokens.list();
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

export function tokenRevoke(o: DataOpts & { name: string }): Promise<void> {
  return withParts(o, (parts) => parts.tokens.revoke(o.name, cliActor()));
}

export async function revokeSerial(o: DataOpts & { serial: string; reason?: string }): Promise<void> {
  const serial = normalizeSerial(o.serial);
  const reason = parseReason(o.reason);
  return withParts(o, (parts) => parts.certificates.revoke(serial, reason, cliActor()));
}
