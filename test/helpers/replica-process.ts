import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import { caCli } from "./ca-process.js";

/*
 * Replica processes for the lease tests (test/integration/replicas-lease.test.ts on SQLite,
 * test/e2e/pg-lease.test.ts on PostgreSQL): each the real startServer in a process of its own
 * (replica.ts), so that one can be killed with kill -9.
 */

/** Two data directories of one CA: a initialised, b a copy of its keys; both are to use `db`, a's. */
export interface TwoDataDirs {
  a: string;
  b: string;
  db: string;
  rootPem: string;
}

/**
 * For a test file about replicas on one SQLite file (test/integration/replicas*.test.ts): a
 * temporary directory `dir`, removed after the file's tests, and `two`, which makes a pair of data
 * directories in it, `name`-a and `name`-b. Call it at the file's top level.
 */
export function replicaDataDirs(): { dir: string; two: (name: string) => TwoDataDirs } {
  const dir = mkdtempSync(join(tmpdir(), "certyard-replicas-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const two = (name: string): TwoDataDirs => {
    const a = join(dir, `${name}-a`);
    const b = join(dir, `${name}-b`);
    const init = caCli(["init", "--data", a]);
    assert.equal(init.code, 0, init.stderr);
    cpSync(a, b, { recursive: true });
    rmSync(join(b, "certyard.db"));
    return { a, b, db: join(a, "certyard.db"), rootPem: readFileSync(join(a, "root.crt"), "utf8") };
  };
  return { dir, two };
}

/** A replica process (test/helpers/replica.ts) with leases of 1.5 s renewed every 0.3 s. */
export interface Replica {
  child: ChildProcess;
  holder: string;
  port: number;
  /** resolves with the first log line (JSON) from now on that `match` accepts */
  nextLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** resolves with the first log line so far, or from now on, that `match` accepts */
  anyLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** every log line so far */
  logs: Record<string, unknown>[];
}

const REPLICA = fileURLToPath(new URL("./replica.js", import.meta.url));

export async function startReplica(
  data: string,
  db: string,
  /** replica.ts's OPTIONS: a fixed port (the public URL names it), ACME limits */
  options: { port?: number; acmeLimits?: Record<string, number> } = {},
): Promise<Replica> {
  const child = spawn(process.execPath, [REPLICA, data, db, JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let partial = "";
  child.stderr?.on("data", (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const text of lines) {
      const line = JSON.parse(text) as Record<string, unknown>;
      logs.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (!out.includes("\n") || !line) return;
      const { holder, port } = JSON.parse(line) as { holder: string; port: number };
      resolve({
        child,
        holder,
        port,
        logs,
        nextLog: (match) => new Promise((res) => waiters.push({ match, resolve: res })),
        anyLog: (match) => {
          const seen = logs.find(match);
          return seen ? Promise.resolve(seen) : new Promise((res) => waiters.push({ match, resolve: res }));
        },
      });
    });
    child.once("exit", (code) => reject(new Error(`replica exited ${code}: ${JSON.stringify(logs)}`)));
  });
}

/** A log line: the lease `name` was taken. */
export const taken = (name: string) => (l: Record<string, unknown>) =>
  l.msg === "lease taken" && l.lease === name;

/** SIGTERM to each replica still running, SIGKILL after 15 s; resolves when all are gone. */
export async function stopReplicas(replicas: Replica[]): Promise<void> {
  await Promise.all(
    replicas.map((r) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return null;
      const exited = new Promise((res) => r.child.once("exit", res));
      r.child.kill("SIGTERM");
      // a replica that does not stop on SIGTERM must not keep the test waiting
      const hard = setTimeout(() => r.child.kill("SIGKILL"), 15_000);
      return exited.finally(() => clearTimeout(hard));
    }),
  );
}

/** SIGKILL, and waits until the process is gone. */
export async function kill9(r: Replica): Promise<void> {
  const gone = new Promise((res) => r.child.once("exit", res));
  r.child.kill("SIGKILL");
  await gone;
}
