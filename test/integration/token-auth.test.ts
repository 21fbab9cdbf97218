import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import bcrypt from "bcryptjs";
import pino from "pino";
import { tokenCreate, tokenRevoke } from "../../services/ca/cli/admin-cmds.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";
import { openTestStore } from "../helpers/test-db.js";

/** Issue 14, "Wrong token secrets are expensive and unlimited". */
describe("token authentication: cheap to refuse, one answer for every refusal, limited per address, logged", () => {
  let ca: TestCa;
  const logged: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) logged.push(JSON.parse(line));
      done();
    },
  });
  const csr = makeCsr({ san: ["DNS:host.lan"] }).csrPem;
  const sign = (token: string) => ca.request("/v1/sign", { body: { csr }, token });

  before(async () => {
    ca = await startCa({ log: pino({ level: "warn" }, sink) });
  });
  after(() => ca.close());

  test("a new token's secret is stored as a keyed SHA-256, not bcrypt; a bcrypt-hashed token from before still signs", async () => {
    const token = await ca.createToken({ name: "keyed", dns: ["host.lan"] });
    const id = token.slice("cyt_".length, "cyt_".length + 16);
    const secret = `${randomBytes(32).toString("base64url")}`;
    const oldId = randomBytes(8).toString("hex");
    const store = await openTestStore(ca.dataDir);
    try {
      assert.match((await store.tokens.byId(id))?.secretHash ?? "", /^hmac-sha256:[A-Za-z0-9_-]{43}$/);
      // a token as earlier versions stored it: the secret's bcrypt hash
      await store.tokens.create({
        id: oldId,
        name: "from-before",
        kind: "enrol",
        secretHash: bcrypt.hashSync(secret, 12),
        policy: { dns: [{ kind: "exact", name: "host.lan" }], ips: [], maxValidityMs: 30 * 86_400_000 },
        expiresAt: null,
        usesLeft: null,
        rateLimit: 60,
        rateWindowMs: 60_000,
        createdAt: Date.now(),
        revokedAt: null,
      });
    } finally {
      await store.close();
    }
    assert.equal((await sign(token)).status, 201);
    assert.equal((await sign(`cyt_${oldId}_${secret}`)).status, 201);
  });

  test("unknown id, wrong secret, revoked, expired and used-up answer the same 401 (before: each said which)", async () => {
    const good = await ca.createToken({ name: "good", dns: ["host.lan"] });
    const revoked = await ca.createToken({ name: "gone", dns: ["host.lan"] });
    await tokenRevoke({ ...ca.data, name: "gone" });
    const usedUp = await ca.createToken({ name: "once", dns: ["host.lan"], uses: 1 });
    assert.equal((await sign(usedUp)).status, 201);
    const expired = await ca.createToken({ name: "brief", dns: ["host.lan"], expires: "1ms" });
    const wrong =
      `${good.slice(0, -4)}AAAA` === good ? `${good.slice(0, -4)}BBBB` : `${good.slice(0, -4)}AAAA`;
    const answers = [];
    for (const t of [`cyt_0123456789abcdef_${"A".repeat(43)}`, wrong, revoked, expired, usedUp]) {
      const res = await sign(t);
      assert.equal(res.status, 401, res.body.toString());
      const { type, detail, title, status } = res.json();
      answers.push({ type, detail, title, status });
    }
    for (const a of answers) assert.deepEqual(a, answers[0]);
    assert.equal(answers[0]?.type, "https://certyard.dev/problems/unauthorized");

    // each failure is logged at warn with the token's name (or id), the address and the reason
    const failures = logged.filter((l) => l.msg === "token authentication failed");
    assert.deepEqual(
      failures.slice(-5).map((l) => [l.level, l.token, l.address, l.reason]),
      [
        [40, "0123456789abcdef", "127.0.0.1", "unknown token"],
        [40, "good", "127.0.0.1", "wrong token secret"],
        [40, "gone", "127.0.0.1", "the token has been revoked"],
        [40, "brief", "127.0.0.1", "the token has expired"],
        [40, "once", "127.0.0.1", "the token has no uses left"],
      ],
    );
  });

  test("a lost token key is refused in one line naming it, not made anew (every token hashed with it would end)", async () => {
    const path = join(ca.dataDir, "token-key");
    renameSync(path, `${path}.away`);
    try {
      await assert.rejects(
        () => tokenCreate({ ...ca.data, name: "after-loss", dns: ["host.lan"] }),
        /token-key is missing, but the tokens in .*(certyard\.db|\/cy_[0-9a-f]+) are hashed with it: restore it from a backup/,
      );
      assert.equal(existsSync(path), false);
    } finally {
      renameSync(`${path}.away`, path);
    }
  });
});

describe("token authentication: after 10 failures in a minute from one address, 429 for any token", () => {
  let ca: TestCa;
  before(async () => {
    ca = await startCa();
  });
  after(() => ca.close());

  test("the 11th request gets 429 with Retry-After, the right token too (before: 401 and a bcrypt compare each, without end)", async () => {
    const good = await ca.createToken({ name: "right", dns: ["host.lan"] });
    const csr = makeCsr({ san: ["DNS:host.lan"] }).csrPem;
    const wrong = `cyt_${good.slice(4, 20)}_${"B".repeat(43)}`;
    for (let i = 0; i < 10; i++) {
      const res = await ca.request("/v1/sign", { body: { csr }, token: wrong });
      assert.equal(res.status, 401, `failure ${i + 1}`);
    }
    for (const token of [wrong, good]) {
      const res = await ca.request("/v1/sign", { body: { csr }, token });
      assert.equal(res.status, 429, res.body.toString());
      assert.equal(res.json().type, "https://certyard.dev/problems/rateLimited");
      const retry = Number(res.headers["retry-after"]);
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    }
    // the admin endpoints count the same address
    const admin = await ca.request("/v1/certs", { method: "GET", token: ca.adminToken });
    assert.equal(admin.status, 429);
  });
});
