import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Identifier } from "../../../../shared/acme/types.js";
import { runShell } from "../../actions/exec.js";
import { AcmeError } from "./http.js";
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

/**
 * RFC 8555 8.1: a token is base64url without padding and holds at least 128 bits of entropy
 * (22 characters). The server chooses it and the agent makes a file name of it, so nothing uses
 * a token before this check: one like `../../etc/x` would name a file outside the webroot.
 */
const TOKEN = /^[A-Za-z0-9_-]{22,200}$/;

export function checkChallengeToken(token: unknown): string {
  if (typeof token === "string" && TOKEN.test(token)) return token;
  const shown = typeof token === "string" ? JSON.stringify(token.slice(0, 60)) : typeof token;
  throw new AcmeError(
    `the ACME server sent an invalid challenge token ${shown} (RFC 8555 8.1: base64url, 22 to 200 characters); nothing was written`,
    undefined,
    undefined,
  );
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL } = constants;

/**
 * A path that reaches NAME inside the directory open as FD without resolving the directory's
 * path again (Linux's /proc/self/fd, as openat would): a directory swapped for a symlink after it
 * was opened is not followed.
 */
const inDir = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;

/** Opens (making it first if missing) the directory NAME inside the open directory PARENT; never a symlink. */
function openSubdir(parent: number, name: string, shown: string): number {
  try {
    mkdirSync(inDir(parent, name), 0o755);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  try {
    return openSync(inDir(parent, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ELOOP" && code !== "ENOTDIR") throw e;
    const what = lstatSync(inDir(parent, name)).isSymbolicLink() ? "a symbolic link" : "not a directory";
    throw new Error(`${shown} is ${what}: --webroot refuses to follow or replace it; make it a directory`);
  }
}

/**
 * RFC 8555 8.3 through a web server that already serves DIR: the file is written into
 * DIR/.well-known/acme-challenge, then removed. DIR itself is the user's choice and may be a
 * symlink; below it nothing is followed: `.well-known` and `acme-challenge` are opened with
 * O_NOFOLLOW and refused when they are symlinks, the file is made with O_EXCL | O_NOFOLLOW and
 * renamed into place inside the directory opened (a symlink at its name is replaced, never
 * written through), and clean-up removes only the file this solver wrote.
 */
export function webrootHttp01(dir: string): Solver {
  const folder = join(dir, ".well-known", "acme-challenge");
  let challengeDir: number | undefined;
  const written = new Map<string, { dev: number; ino: number }>();
  const open = () => {
    if (challengeDir === undefined) throw new Error("the webroot solver was not started");
    return challengeDir;
  };
  return {
    type: "http-01",
    async start() {
      const root = openSync(dir, O_RDONLY | O_DIRECTORY);
      try {
        const wellKnown = openSubdir(root, ".well-known", join(dir, ".well-known"));
        try {
          challengeDir = openSubdir(wellKnown, "acme-challenge", folder);
        } finally {
          closeSync(wellKnown);
        }
      } finally {
        closeSync(root);
      }
    },
    async present(_id, token, keyAuth) {
      const name = checkChallengeToken(token);
      const d = open();
      const tmp = `.${name}.${randomBytes(6).toString("hex")}.tmp`;
      const fd = openSync(inDir(d, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
      let id: { dev: number; ino: number };
      try {
        writeSync(fd, keyAuth);
        fsyncSync(fd);
        const st = fstatSync(fd);
        id = { dev: st.dev, ino: st.ino };
      } catch (e) {
        closeSync(fd);
        rmSync(inDir(d, tmp), { force: true });
        throw e;
      }
      closeSync(fd);
      try {
        renameSync(inDir(d, tmp), inDir(d, name));
      } catch (e) {
        rmSync(inDir(d, tmp), { force: true });
        throw new Error(`cannot write ${join(folder, name)}: ${(e as Error).message}`);
      }
      written.set(name, id);
      fsyncSync(d);
    },
    async cleanup(_id, token) {
      // only a name present() checked and wrote is ever touched
      const mine = written.get(token);
      if (!mine) return;
      const name = token;
      written.delete(name);
      const d = open();
      const st = lstatSync(inDir(d, name), { throwIfNoEntry: false });
      if (!st) return;
      if (!st.isFile() || st.dev !== mine.dev || st.ino !== mine.ino)
        throw new Error(`${join(folder, name)} is no longer the file the agent wrote: left in place`);
      unlinkSync(inDir(d, name));
    },
    async stop() {
      if (challengeDir !== undefined) closeSync(challengeDir);
      challengeDir = undefined;
    },
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
