import { mkdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Identifier } from "../../../../shared/acme/types.js";
import { writeFileAtomic } from "../../../../shared/fs.js";
import { runShell } from "../../actions/exec.js";
import { dns01Value } from "./jws.js";

/** How the agent proves control of a name: one of the three ways the CLI offers. */
export type ChallengeSettings =
  | { kind: "http-01"; port: number }
  | { kind: "webroot"; dir: string }
  /** cwd: where `cert` ran, so that a relative hook still runs when cron renews from elsewhere */
  | { kind: "dns-01"; hook: string; cwd?: string };

export interface Solver {
  /** the ACME challenge type it answers */
  type: "http-01" | "dns-01";
  start(): Promise<void>;
  present(id: Identifier, token: string, keyAuth: string): Promise<void>;
  cleanup(id: Identifier, token: string, keyAuth: string): Promise<void>;
  stop(): Promise<void>;
}

export const HTTP01_PREFIX = "/.well-known/acme-challenge/";

/** RFC 8555 8.3: answers GET /.well-known/acme-challenge/TOKEN, only while validation runs. */
export function standaloneHttp01(port: number, host = "0.0.0.0"): Solver {
  const tokens = new Map<string, string>();
  let server: Server | undefined;
  return {
    type: "http-01",
    async start() {
      const srv = createServer((req, res) => {
        const path = (req.url ?? "").split("?")[0] ?? "";
        const keyAuth = path.startsWith(HTTP01_PREFIX)
          ? tokens.get(path.slice(HTTP01_PREFIX.length))
          : undefined;
        if (req.method !== "GET" || keyAuth === undefined) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(keyAuth);
      });
      await new Promise<void>((resolve, reject) => {
        srv.once("error", (e) =>
          reject(new Error(`cannot listen on port ${port} for http-01: ${e.message}`)),
        );
        srv.listen(port, host, () => resolve());
      });
      server = srv;
    },
    async present(_id, token, keyAuth) {
      tokens.set(token, keyAuth);
    },
    async cleanup(_id, token) {
      tokens.delete(token);
    },
    async stop() {
      const srv = server;
      server = undefined;
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()).closeAllConnections());
    },
  };
}

/** RFC 8555 8.3 through a web server that already serves DIR: the file is written, then removed. */
export function webrootHttp01(dir: string): Solver {
  const folder = join(dir, ".well-known", "acme-challenge");
  return {
    type: "http-01",
    async start() {
      mkdirSync(folder, { recursive: true, mode: 0o755 });
    },
    async present(_id, token, keyAuth) {
      writeFileAtomic(join(folder, token), keyAuth, 0o644);
    },
    async cleanup(_id, token) {
      rmSync(join(folder, token), { force: true });
    },
    async stop() {},
  };
}

/** The environment a dns-01 hook sees (RFC 8555 8.4: the TXT record at _acme-challenge.NAME). */
export function dns01HookEnv(
  action: "present" | "cleanup",
  name: string,
  keyAuth: string,
): Record<string, string> {
  return {
    CERTYARD_ACME_ACTION: action,
    CERTYARD_ACME_DOMAIN: name,
    CERTYARD_ACME_RECORD_NAME: `_acme-challenge.${name.replace(/^\*\./, "")}`,
    CERTYARD_ACME_RECORD_VALUE: dns01Value(keyAuth),
  };
}

export function dns01Hook(command: string, cwd?: string): Solver {
  return {
    type: "dns-01",
    async start() {},
    async present(id, _token, keyAuth) {
      await runShell(command, dns01HookEnv("present", id.value, keyAuth), { cwd });
    },
    async cleanup(id, _token, keyAuth) {
      await runShell(command, dns01HookEnv("cleanup", id.value, keyAuth), { cwd });
    },
    async stop() {},
  };
}

export function solverFor(c: ChallengeSettings): Solver {
  if (c.kind === "http-01") return standaloneHttp01(c.port);
  if (c.kind === "webroot") return webrootHttp01(c.dir);
  return dns01Hook(c.hook, c.cwd);
}

/** As stored in the managed record (a flat string map), and back. */
export function challengeToRecord(c: ChallengeSettings): Record<string, string> {
  if (c.kind === "http-01") return { kind: c.kind, port: String(c.port) };
  if (c.kind === "webroot") return { kind: c.kind, dir: c.dir };
  return { kind: c.kind, hook: c.hook, ...(c.cwd ? { cwd: c.cwd } : {}) };
}

export function challengeFromRecord(r: Record<string, string> | undefined): ChallengeSettings {
  if (r?.kind === "webroot" && r.dir) return { kind: "webroot", dir: r.dir };
  if (r?.kind === "dns-01" && r.hook)
    return { kind: "dns-01", hook: r.hook, ...(r.cwd ? { cwd: r.cwd } : {}) };
  const port = Number(r?.port ?? 80);
  return { kind: "http-01", port };
}
