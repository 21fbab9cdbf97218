import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore } from "../../services/ca/store/index.js";

const BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

const dir = mkdtempSync(join(tmpdir(), "certyard-eab-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("eab create prints KID HMAC, stores the key and policy, keeps the database 0600", () => {
  const data = join(dir, "data");
  assert.equal(cli(["init", "--data", data]).status, 0);
  const r = cli(["eab", "create", "--data", data, "--name", "lab", "--dns", "*.lan", "--ip", "10.0.0.0/8"]);
  assert.equal(r.status, 0, r.stderr);
  const [kid, hmac, extra] = r.stdout.trim().split(" ");
  assert.ok(kid && hmac && extra === undefined);
  assert.equal(Buffer.from(hmac, "base64url").length, 32);
  assert.equal(statSync(join(data, "certyard.db")).mode & 0o777, 0o600);
  const store = openStore(join(data, "certyard.db"));
  try {
    const eab = store.acme.eab(kid);
    assert.ok(eab);
    assert.equal(Buffer.from(eab.hmacKey).toString("base64url"), hmac);
    assert.deepEqual(eab.policy.dns, [{ kind: "one", suffix: "lan" }]);
    assert.equal(eab.policy.ips.length, 1);
  } finally {
    store.close();
  }
  const again = cli(["eab", "create", "--data", data, "--name", "lab", "--dns", "x.lan"]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /already exists/);
  const none = cli(["eab", "create", "--data", data, "--name", "empty"]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /at least one/);
});
