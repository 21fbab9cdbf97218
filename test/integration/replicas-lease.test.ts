import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { httpsRequest } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";

/*
 * Replicas: separate processes, each with its own copy of the data directory (the CA keys), on
 * one database (here one SQLite file, which several processes share for real). Nothing one of
 * them keeps in memory may make it answer otherwise than the others.
 */

const dir = mkdtempSync(join(tmpdir(), "certyard-replicas-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An initialised CA in `a`, its keys copied to `b`, both to use a's database. */
function twoDataDirs(name: string) {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const init = caCli(["init", "--data", a]);
  assert.equal(init.code, 0, init.stderr);
  cpSync(a, b, { recursive: true });
  rmSync(join(b, "certyard.db"));
  return { a, b, db: join(a, "certyard.db"), rootPem: readFileSync(join(a, "root.crt"), "utf8") };
}

/** A replica process (test/helpers/replica.ts) with leases of 1.5 s renewed every 0.3 s. */
interface Replica {
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

const REPLICA = fileURLToPath(new URL("../helpers/replica.js", import.meta.url));

async function startReplica(data: string, db: string): Promise<Replica> {
  const child = spawn(process.execPath, [REPLICA, data, db], { stdio: ["ignore", "pipe", "pipe"] });
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

/** The holder of a lease in the database, as its table has it now. */
function leaseHolder(db: string, name: string): string | null {
  const sqlite = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const row = sqlite.prepare("select holder from leases where name = ?").get(name) as
      | { holder: string }
      | undefined;
    return row?.holder ?? null;
  } finally {
    sqlite.close();
  }
}

const taken = (name: string) => (l: Record<string, unknown>) => l.msg === "lease taken" && l.lease === name;

test("periodic work runs in the replica holding its lease; kill -9 of the holder, and the other takes it over", async () => {
  const dirs = twoDataDirs("lease");
  const replicas = await Promise.all([startReplica(dirs.a, dirs.db), startReplica(dirs.b, dirs.db)]);
  try {
    // the CRL refresh (every 0.2 s here) is taken by one of them, maybe before its port line was
    // read (stderr and stdout are two pipes: their lines arrive in either order)
    const first = await Promise.race(replicas.map((r) => r.anyLog(taken("crl-refresh")).then(() => r)));
    const other = replicas.find((r) => r !== first);
    assert.ok(other);
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), first.holder);
    // the other asks every 0.3 s and is refused while the holder renews: several ttls pass
    const otherTook = other.nextLog(taken("crl-refresh"));
    await first.nextLog((l) => l.msg === "lease renewed" && l.lease === "crl-refresh");
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), first.holder);
    assert.equal(other.logs.filter(taken("crl-refresh")).length, 0, "never held by both");

    const gone = new Promise((r) => first.child.once("exit", r));
    const killedAt = Date.now();
    first.child.kill("SIGKILL");
    await gone;
    await otherTook;
    const after = Date.now() - killedAt;
    // within the ttl (1.5 s) and one renewal period (0.3 s), with room for a loaded machine
    assert.ok(after < 10_000, `took ${after} ms`);
    assert.equal(leaseHolder(dirs.db, "crl-refresh"), other.holder);
    // and it serves on: the CRL is there to fetch
    const crl = await httpsRequest(`https://127.0.0.1:${other.port}/crl`, dirs.rootPem);
    assert.equal(crl.status, 200);
  } finally {
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
});
