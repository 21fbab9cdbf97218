/**
 * What a backup carries from the data directory, as data: each file the CA keeps there is
 * carried (with the mode restore gives it, whatever the archive says), taken from the database
 * by a snapshot, or left out for a reason. Anything else found there is named on stderr and
 * left out, so a stray file (an earlier backup written into the directory) never grows the next.
 */

export const DATABASE = "certyard.db";
export const CRL_NUMBER = "crl-number";
export const MANIFEST = "MANIFEST.json";

export type Disposition =
  | { kind: "carry"; mode: number }
  | { kind: "snapshot"; mode: number }
  | { kind: "skip"; why: string };

interface Rule {
  match: RegExp;
  disposition: Disposition;
}

const SECRET = 0o600;
const PUBLIC = 0o644;

/** First match wins. Paths are relative to the data directory, with "/" between folders. */
const RULES: Rule[] = [
  { match: /^certyard\.db$/, disposition: { kind: "snapshot", mode: SECRET } },
  {
    match: /^certyard\.db-(wal|shm|journal)$/,
    disposition: { kind: "skip", why: "folded into the database snapshot" },
  },
  // CA keys as they are on disk: encrypted ones stay encrypted
  { match: /^(previous\/)?[a-z0-9-]+\.key$/, disposition: { kind: "carry", mode: SECRET } },
  { match: /^(previous\/)?[a-z0-9-]+\.crt$/, disposition: { kind: "carry", mode: PUBLIC } },
  { match: /^ca\.json$/, disposition: { kind: "carry", mode: PUBLIC } },
  // the last CRL number published: a restored CA numbers its next CRL above it (RFC 5280 5.2.3)
  { match: /^crl-number$/, disposition: { kind: "carry", mode: SECRET } },
  // the key token secrets are hashed with: without it no token made since can be checked
  { match: /^token-key$/, disposition: { kind: "carry", mode: SECRET } },
  {
    match: /^admin-token$/,
    disposition: {
      kind: "skip",
      why: "a bearer secret; serve writes a new admin token when the file is missing",
    },
  },
  {
    match: /^serve\.json$/,
    disposition: { kind: "skip", why: "serve writes it each time it starts" },
  },
  {
    match: /^tls\//,
    disposition: { kind: "skip", why: "the serving certificate; serve issues a new one when it is missing" },
  },
  { match: /(^|\/)\./, disposition: { kind: "skip", why: "a temporary file" } },
];

/** What happens to the file at `path` (relative to the data directory); null: not the CA's. */
export function dispositionOf(path: string): Disposition | null {
  return RULES.find((r) => r.match.test(path))?.disposition ?? null;
}

/** Without these an archive is no backup of a CA (the root key may be kept offline). */
export const REQUIRED = [DATABASE, "ca.json", "root.crt", "intermediate.crt", "intermediate.key"];

/** The folders below the data directory that a backup looks into. */
export const FOLDERS = ["previous"];
