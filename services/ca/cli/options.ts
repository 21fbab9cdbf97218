import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { envFlags } from "../../../shared/cli.js";
import { InputError } from "../../../shared/errors.js";
import { parseUrl } from "../../../shared/url.js";
import type { Actor } from "../core/audit.js";
import { type CaPaths, caPaths } from "../keys/paths.js";
import { parseDbUrl } from "../store/db-url.js";

export const { flag, listFlag, switchFlag } = envFlags("CERTYARD");

export const dataFlag = () => flag("--data <dir>", "data directory (SQLite file and keys)").default("./data");

/** The flags of every command that works on the CA's data: --data and --db. */
export interface DataOpts {
  data: string;
  db?: string;
}

export const dbFlag = () =>
  flag(
    "--db <url>",
    "the database: sqlite:PATH (default: DATA/certyard.db) or postgres://USER:PASS@HOST:PORT/DB",
  );

/**
 * --data and --db: where the CA's files and its database are. A --db that is not one is refused
 * here, in one line, before a command writes anything.
 */
export function dataPaths(o: DataOpts): CaPaths {
  return caPaths(o.data, parseDbUrl(o.db, o.data));
}

/** Who a CLI command acts as, for the audit trail: the operating system's user. */
export function cliActor(): Actor {
  let id: string;
  try {
    id = userInfo().username;
  } catch {
    // a uid with no passwd entry (a container run with --user 1234)
    id = `uid ${process.getuid?.() ?? "unknown"}`;
  }
  return { kind: "cli", id };
}

export function readPassphrase(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const text = readFileSync(file, "utf8").replace(/\r?\n$/, "");
  if (text.length === 0) throw new Error(`${file} is empty`);
  return text;
}

/**
 * The CA's public base URL (--url): what leaves carry as their CRL distribution point and join
 * strings carry to agents, so it is checked when given: https, no credentials, query or fragment.
 */
export function baseUrl(text: string): string {
  const url = parseUrl(text, "--url", "https://ca.lan:8443");
  if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash) {
    throw new InputError(
      "--url: give an https:// base URL without credentials, query or fragment, e.g. https://ca.lan:8443",
    );
  }
  return url.href.replace(/\/$/, "");
}
