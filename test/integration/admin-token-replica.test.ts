import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { httpsRequest } from "../helpers/ca.js";
import { caCli, type ServeProcess, serveProcess } from "../helpers/ca-process.js";

/*
 * Issue 17: one admin token per installation, stored hashed in the database. A replica started
 * with a data directory that lacks admin-token, on a database other data directories share, used
 * to mint a new admin token silently, which ended the one every other replica's file held.
 */

const dir = mkdtempSync(join(tmpdir(), "certyard-admin-token-"));
const running: ServeProcess[] = [];
after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(data: string, extra: string[] = []): Promise<ServeProcess> {
  const s = await serveProcess(data, extra);
  running.push(s);
  return s;
}

test("a replica without admin-token on a shared database refuses to start; `admin-token new` makes one for all", async () => {
  const a = join(dir, "a");
  assert.equal(caCli(["init", "--data", a]).code, 0);
  const b = join(dir, "b");
  cpSync(a, b, { recursive: true });
  rmSync(join(b, "certyard.db"));
  rmSync(join(b, "admin-token"));
  const db = ["--db", `sqlite:${join(a, "certyard.db")}`];
  const rootPem = readFileSync(join(a, "root.crt"), "utf8");
  const oldToken = readFileSync(join(a, "admin-token"), "utf8").trim();

  let started: ServeProcess | null = null;
  const refusal = await serve(b, db).then(
    (s) => {
      started = s;
      return "";
    },
    (err: Error) => err.message,
  );
  assert.equal(started, null, "serve started and minted an admin token");
  assert.match(refusal, /admin-token is missing, and the database .* has an admin token \(made \d{4}-/);
  assert.match(
    refusal,
    /copy admin-token from one of them .* or make a new one with `certyard-ca admin-token new/,
  );
  assert.equal(existsSync(join(b, "admin-token")), false);
  const replicaA = await serve(a);
  const list = (url: string, token: string) => httpsRequest(`${url}/v1/certs`, rootPem, { token });
  assert.equal((await list(replicaA.url, oldToken)).status, 200, "the old admin token still works");

  const made = caCli(["admin-token", "new", "--data", b, ...db]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout, `admin token: ${join(b, "admin-token")}\n`);
  assert.equal(statSync(join(b, "admin-token")).mode & 0o777, 0o600);
  const newToken = readFileSync(join(b, "admin-token"), "utf8").trim();
  const replicaB = await serve(b, db);
  for (const url of [replicaA.url, replicaB.url]) {
    assert.equal((await list(url, newToken)).status, 200);
    assert.equal((await list(url, oldToken)).status, 401);
  }
});

test("a data directory with its own database: a lost admin-token is replaced at start, as before", async () => {
  const c = join(dir, "c");
  assert.equal(caCli(["init", "--data", c]).code, 0);
  const old = readFileSync(join(c, "admin-token"), "utf8").trim();
  rmSync(join(c, "admin-token"));
  const s = await serve(c);
  const token = readFileSync(join(c, "admin-token"), "utf8").trim();
  assert.notEqual(token, old);
  const rootPem = readFileSync(join(c, "root.crt"), "utf8");
  assert.equal((await httpsRequest(`${s.url}/v1/certs`, rootPem, { token })).status, 200);
});
