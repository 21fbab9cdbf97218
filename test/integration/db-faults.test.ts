import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { httpsRequest } from "../helpers/ca.js";
import { caCli, caCliAsync, type ServeProcess, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";

/**
 * Issue 14's fault tests on the database, against `certyard-ca serve` as its own process: a
 * kill -9 in the middle of a burst of signs, and a write lock held by another process.
 */

interface Db {
  integrity: string;
  serials: string[];
  usesLeft: number | null;
}

/** What the database file holds for the token: read after serve is gone or through WAL. */
function readDb(data: string, tokenName: string): Db {
  const db = new Database(join(data, "certyard.db"), { readonly: true });
  try {
    db.pragma("busy_timeout = 10000");
    const integrity = (db.pragma("integrity_check") as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join("; ");
    const token = db.prepare("select id, uses_left from tokens where name = ?").get(tokenName) as {
      id: string;
      uses_left: number | null;
    };
    const serials = (
      db.prepare("select serial from certificates where token_id = ?").all(token.id) as { serial: string }[]
    ).map((r) => r.serial);
    return { integrity, serials, usesLeft: token.uses_left };
  } finally {
    db.close();
  }
}

describe("database faults under serve", () => {
  const dirs: string[] = [];
  const servers: ServeProcess[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function setUp(uses: number) {
    const dir = mkdtempSync(join(tmpdir(), "certyard-dbfault-"));
    dirs.push(dir);
    const data = join(dir, "data");
    assert.equal(caCli(["init", "--data", data]).code, 0);
    const made = caCli([
      ...["token", "create", "--data", data, "--name", "burst", "--dns", "registry.lan"],
      ...["--uses", String(uses), "--rate", "100000/1m"],
    ]);
    assert.equal(made.code, 0, made.stderr);
    return { data, token: made.stdout.trim(), root: readFileSync(join(data, "root.crt"), "utf8") };
  }

  test("kill -9 during a burst of signs: the database is intact, every serial a client got is recorded, none twice, the token's uses exact", async () => {
    const USES = 5000;
    const { data, token, root } = setUp(USES);
    const serve = await serveProcess(data);
    servers.push(serve);
    const csr = makeCsr({ san: ["DNS:registry.lan"] }).csrPem;
    const returned: string[] = [];
    let failures = 0;
    let killed = false;
    const KILL_AFTER = 40;
    // 12 clients sign back to back; serve is killed with SIGKILL once KILL_AFTER certificates are out
    const client = async () => {
      while (failures === 0 || !killed) {
        try {
          const res = await httpsRequest(`${serve.url}/v1/sign`, root, { body: { csr }, token });
          assert.equal(res.status, 201, res.body.toString());
          returned.push(res.json<{ serial: string }>().serial);
          if (returned.length >= KILL_AFTER && !killed) {
            killed = true;
            serve.child.kill("SIGKILL");
          }
        } catch (e) {
          // only once serve is gone: a refused or reset connection
          assert.ok(killed, `a sign failed before the kill: ${e}`);
          failures++;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, client));
    assert.equal(await serve.stop(), null, "serve died of the signal");
    assert.equal(serve.child.signalCode, "SIGKILL");

    const after = readDb(data, "burst");
    assert.equal(after.integrity, "ok");
    assert.equal(new Set(after.serials).size, after.serials.length, "no serial twice");
    const recorded = new Set(after.serials);
    const lost = returned.filter((s) => !recorded.has(s));
    assert.deepEqual(lost, [], "every serial returned to a client is recorded");
    // each certificate took one use, in the same transaction; a commit whose answer the kill cut
    // off is recorded and counted too
    assert.equal(after.usesLeft, USES - after.serials.length, "uses left");
    assert.ok(after.serials.length >= returned.length);

    // and serve starts again on it, and issues
    const again = await serveProcess(data);
    servers.push(again);
    const res = await httpsRequest(`${again.url}/v1/sign`, root, { body: { csr }, token });
    assert.equal(res.status, 201, res.body.toString());
    await again.stop();
    assert.equal(readDb(data, "burst").usesLeft, USES - after.serials.length - 1);
  });

  test("a write lock held by another process: requests and the CLI wait for it, then succeed (no SQLITE_BUSY)", async () => {
    const { data, token, root } = setUp(100);
    const serve = await serveProcess(data);
    servers.push(serve);
    const csr = makeCsr({ san: ["DNS:registry.lan"] }).csrPem;
    // a long transaction in another process, as a CLI command's would be: 3 s with the write lock
    const holder = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import Database from "better-sqlite3";
         const db = new Database(process.argv[1]);
         db.exec("BEGIN IMMEDIATE");
         db.prepare("update tokens set window_count = window_count where name = 'burst'").run();
         process.stdout.write("locked\\n");
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
         db.exec("COMMIT");
         process.stdout.write("released\\n");`,
        join(data, "certyard.db"),
      ],
      { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] },
    );
    let said = "";
    holder.stdout.on("data", (d: Buffer) => {
      said += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => holder.once("exit", resolve));
    for (let i = 0; i < 600 && !said.includes("locked"); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(said, "locked\n", "the other process holds the lock");

    // sent while the lock is held: the CLI, and signs
    const cli = caCliAsync(["token", "create", "--data", data, "--name", "during-lock", "--dns", "x.lan"]);
    const signs = Array.from({ length: 6 }, () =>
      httpsRequest(`${serve.url}/v1/sign`, root, { body: { csr }, token }),
    );
    assert.ok(!said.includes("released"), "sent before the lock was released");
    const results = await Promise.all(signs);
    for (const r of results) assert.equal(r.status, 201, r.body.toString());
    const made = await cli;
    assert.equal(made.code, 0, made.stderr);
    assert.equal(await exited, 0);
    assert.equal(said, "locked\nreleased\n");
    await serve.stop();
    const db = readDb(data, "burst");
    assert.deepEqual(db.serials.sort(), results.map((r) => r.json<{ serial: string }>().serial).sort());
    assert.equal(db.usesLeft, 100 - 6);
  });
});
