import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import pino from "pino";
import { init } from "../../services/ca/cli/init.js";
import { type HttpResult, startCa } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";

/**
 * Issue 14: real storage faults, made as root: a small tmpfs filled to the last byte, and a data
 * directory whose files the kernel will not write (chattr +i). The client gets 503 with Retry-After,
 * the cause is logged, /healthz notices and recovers by itself, and nothing is half-written.
 */

function run(command: string, args: string[]) {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}
const mount = (...args: string[]) => run("mount", args);
const umount = (path: string) => run("umount", [path]);

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: pino({ level: "info" }, sink) };
}

async function poll(what: string, ok: () => Promise<boolean>) {
  const deadline = Date.now() + 90_000;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function assertUnavailable(res: HttpResult, label: string) {
  assert.equal(res.status, 503, `${label}: ${res.status} ${res.body.toString()}`);
  assert.match(String(res.headers["content-type"]), /^application\/problem\+json/, label);
  assert.equal(res.headers["retry-after"], "30", label);
  assert.equal(res.json().type, "https://certyard.dev/problems/unavailable", label);
}

/** The database is intact and holds exactly these serials (what clients were given). */
function assertInventory(dataDir: string, serials: string[]) {
  const db = new Database(join(dataDir, "certyard.db"), { readonly: true });
  try {
    assert.deepEqual(db.pragma("integrity_check"), [{ integrity_check: "ok" }]);
    const rows = db.prepare("select serial from certificates where token_id is not null").all() as {
      serial: string;
    }[];
    assert.deepEqual(rows.map((r) => r.serial).sort(), [...serials].sort());
  } finally {
    db.close();
  }
}

describe("storage faults", () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // already undone by the test
      }
    }
  });

  async function enrolled(dataDir: string, log: pino.Logger) {
    const ca = await startCa({ dataDir, log });
    cleanups.push(() => ca.close());
    const token = await ca.createToken({ name: "faults", dns: ["registry.lan"], uses: 1000 });
    const csr = makeCsr({ san: ["DNS:registry.lan"] }).csrPem;
    const sign = () => ca.request("/v1/sign", { body: { csr }, token });
    return { ca, sign };
  }

  test("a full disk: 503 with Retry-After, /healthz 503 with the reason, recovery once space is back (before: an opaque 500)", async () => {
    const base = mkdtempSync(join(tmpdir(), "certyard-full-"));
    mount("-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", base);
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    cleanups.push(() => umount(base));
    const dataDir = join(base, "data");
    await init({ data: dataDir, name: "Full Root CA", keyType: "ec-p256" });
    const { lines, log } = capture();
    const { ca, sign } = await enrolled(dataDir, log);
    const serials: string[] = [];
    const signed = async () => {
      const res = await sign();
      if (res.status === 201) serials.push(res.json<{ serial: string }>().serial);
      return res;
    };
    for (let i = 0; i < 3; i++) assert.equal((await signed()).status, 201);

    // every byte of the tmpfs taken
    const filler = join(base, "filler");
    const fd = openSync(filler, "w");
    try {
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, "ENOSPC");
    } finally {
      closeSync(fd);
    }
    let refused: HttpResult | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await signed();
      if (res.status !== 201) refused = res;
    }
    assert.ok(refused, "a sign was refused once the disk was full");
    assertUnavailable(refused, "sign on a full disk");
    const health = await ca.request("/healthz");
    assertUnavailable(health, "healthz on a full disk");
    assert.match(String(health.json().detail), /disk of the data directory is full/);
    assert.ok(
      lines.some(
        (l) => l.level === 50 && /^cannot write: the disk of the data directory is full/.test(l.msg),
      ),
      "the cause is logged",
    );
    assert.ok(!lines.some((l) => l.msg === "unhandled error"), "no 500");

    rmSync(filler);
    await poll("healthz to recover", async () => (await ca.request("/healthz")).status === 200);
    assert.equal((await signed()).status, 201, "signs again");
    await ca.close();
    // what clients were given is recorded, and nothing else
    assertInventory(dataDir, serials);
  });

  test("a data directory that takes no writes: 503, /healthz 503 with the reason, recovery once writable (before: an opaque 500)", async () => {
    const base = mkdtempSync(join(tmpdir(), "certyard-ro-"));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const dataDir = join(base, "data");
    await init({ data: dataDir, name: "RO Root CA", keyType: "ec-p256" });
    const { lines, log } = capture();
    const { ca, sign } = await enrolled(dataDir, log);
    const serials: string[] = [];
    const first = await sign();
    assert.equal(first.status, 201);
    serials.push(first.json<{ serial: string }>().serial);

    // Immutable (chattr +i): the kernel refuses writes even through the CA's open descriptors,
    // and to root. A read-only remount cannot be made while files are open for writing (EBUSY),
    // and root ignores mode bits. Not the -shm file: SQLite writes it through a shared mapping,
    // which an immutable file turns into SIGBUS, as no disk fault would.
    const files = [dataDir, ...["", "-wal"].map((s) => join(dataDir, `certyard.db${s}`))];
    run("chattr", ["+i", ...files]);
    cleanups.push(() => run("chattr", ["-i", ...files]));
    assertUnavailable(await sign(), "sign on a directory that takes no writes");
    const health = await ca.request("/healthz");
    assertUnavailable(health, "healthz on a directory that takes no writes");
    assert.match(String(health.json().detail), /not writable|I\/O error/);
    assert.ok(
      lines.some((l) => l.level === 50 && /^cannot write: /.test(l.msg)),
      "the cause is logged",
    );
    assert.ok(!lines.some((l) => l.msg === "unhandled error"), "no 500");

    run("chattr", ["-i", ...files]);
    await poll("healthz to recover", async () => (await ca.request("/healthz")).status === 200);
    const again = await sign();
    assert.equal(again.status, 201, again.body.toString());
    serials.push(again.json<{ serial: string }>().serial);
    await ca.close();
    assertInventory(dataDir, serials);
  });

  test("serve and the CLI on a read-only data directory refuse in one line that names it and says why (before: 'unable to open database file')", async () => {
    const base = mkdtempSync(join(tmpdir(), "certyard-rofs-"));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const dataDir = join(base, "data");
    await init({ data: dataDir, name: "RO Root CA", keyType: "ec-p256" });
    // nothing holds it open yet, so a read-only bind mount can be made
    mount("--bind", dataDir, dataDir);
    cleanups.push(() => umount(dataDir));
    mount("-o", "remount,ro,bind", dataDir);
    for (const args of [
      ["token", "create", "--data", dataDir, "--name", "x", "--dns", "a.lan"],
      ["certs", "list", "--data", dataDir],
      ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--workers", "1"],
    ]) {
      const r = caCli(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
      assert.match(
        r.stderr,
        /^certyard-ca: cannot [^\n]*data[^\n]*: the data directory is read-only \(EROFS\)\n$/,
        args[0],
      );
    }
  });
});
