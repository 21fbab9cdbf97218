import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { caCli } from "../helpers/ca-process.js";
import { onPostgres, openTestStore } from "../helpers/test-db.js";

const _BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));
const cli = (args: string[]) => {
  const r = caCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
};

const dir = mkdtempSync(join(tmpdir(), "certyard-eab-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("eab create prints KID HMAC, stores the key and policy, keeps the database 0600", async () => {
  const data = join(dir, "data");
  assert.equal(cli(["init", "--data", data]).status, 0);
  const r = cli(["eab", "create", "--data", data, "--name", "lab", "--dns", "*.lan", "--ip", "10.0.0.0/8"]);
  assert.equal(r.status, 0, r.stderr);
  const [kid, hmac, extra] = r.stdout.trim().split(" ");
  assert.ok(kid && hmac && extra === undefined);
  assert.equal(Buffer.from(hmac, "base64url").length, 32);
  if (!onPostgres) assert.equal(statSync(join(data, "certyard.db")).mode & 0o777, 0o600);
  const store = await openTestStore(data);
  try {
    const eab = await store.acme.eab(kid);
    assert.ok(eab);
    assert.equal(Buffer.from(eab.hmacKey).toString("base64url"), hmac);
    assert.deepEqual(eab.policy.dns, [{ kind: "one", suffix: "lan" }]);
    assert.equal(eab.policy.ips.length, 1);
  } finally {
    await store.close();
  }
  const again = cli(["eab", "create", "--data", data, "--name", "lab", "--dns", "x.lan"]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /already exists/);
  const none = cli(["eab", "create", "--data", data, "--name", "empty"]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /at least one/);
});

test("eab list shows each EAB's accounts and state, never its HMAC key; eab revoke; --accounts", () => {
  const data = join(dir, "list");
  assert.equal(cli(["init", "--data", data]).status, 0);
  const one = cli(["eab", "create", "--data", data, "--name", "one", "--dns", "*.lan"]);
  const many = cli([
    "eab",
    "create",
    "--data",
    data,
    "--name",
    "many",
    "--ip",
    "10.0.0.0/8",
    "--accounts",
    "5",
  ]);
  assert.equal(many.status, 0, many.stderr);
  const [kidOne, hmacOne] = one.stdout.trim().split(" ");
  const json = cli(["eab", "list", "--data", data, "--json"]);
  assert.equal(json.status, 0, json.stderr);
  assert.doesNotMatch(json.stdout, new RegExp(String(hmacOne)));
  const rows = JSON.parse(json.stdout) as {
    name: string;
    kid: string;
    accounts: number;
    maxAccounts: number;
  }[];
  assert.deepEqual(
    rows.map((r) => [r.name, r.accounts, r.maxAccounts]),
    [
      ["one", 0, 1],
      ["many", 0, 5],
    ],
  );
  assert.equal(rows[0]?.kid, kidOne);
  const text = cli(["eab", "list", "--data", data]);
  assert.match(text.stdout, /^NAME\tKID\tSTATE\tACCOUNTS\tNAMES\none\tkid-\S+\tactive\t0\/1\t\*\.lan\n/);

  const revoked = cli(["eab", "revoke", "one", "--data", data]);
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.equal(revoked.stdout, "revoked EAB one\n");
  assert.match(cli(["eab", "list", "--data", data]).stdout, /\none\tkid-\S+\trevoked\t/);
  const missing = cli(["eab", "revoke", "nobody", "--data", data]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, 'certyard-ca: no EAB named "nobody"\n');
  const bad = cli(["eab", "create", "--data", data, "--name", "x", "--dns", "x.lan", "--accounts", "0"]);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "certyard-ca: --accounts takes a positive integer\n");
});
