import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startCa, type TestCa } from "../helpers/ca.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

/**
 * A renewal whose deployment fails (a real reload command that fails) puts the previous files
 * back; the CA has meanwhile superseded the certificate in them (it renews only the newest of a
 * line). The new certificate and its key are kept in the home, so the next renewal presents it
 * and succeeds, instead of failing with 403 for ever.
 */
describe("renew after a rolled-back renewal", () => {
  let ca: TestCa;
  let dir: string;
  before(async () => {
    ca = await startCa();
    dir = mkdtempSync(join(tmpdir(), "certyard-renew-rollback-"));
  });
  after(async () => {
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the next renewal renews from the certificate that could not be deployed, then forgets it", async () => {
    const home = join(dir, "home");
    const out = join(dir, "out");
    const failFlag = join(dir, "fail-reloads");
    const agent = (args: string[]) => runAsync(AGENT, [...args, "--home", home]);
    const fp = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
    assert.equal((await agent(["bootstrap", "--ca", ca.url, "--fingerprint", fp])).code, 0);
    const token = await ca.createToken({ name: "r", dns: ["r.lan"] });
    const first = await agent([
      ...["cert", "--name", "r", "--token", token, "--dns", "r.lan", "--out", out],
      ...["--reload", `exec:test ! -e '${failFlag}'`],
    ]);
    assert.equal(first.code, 0, first.stderr);
    const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();
    const original = readFileSync(join(out, "domain.crt"), "utf8");

    writeFileSync(failFlag, "");
    const failed = await agent(["renew", "--force", "--name", "r"]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout, /r: FAILED: reload failed: .*previous files restored/);
    assert.equal(readFileSync(join(out, "domain.crt"), "utf8"), original, "the previous files are back");
    const pending = join(home, "pending", "r");
    const kept = readFileSync(join(pending, "cert.pem"), "utf8");
    assert.notEqual(serialOf(kept), serialOf(original));
    assert.equal(statSync(join(pending, "key.pem")).mode & 0o777, 0o600);
    assert.ok(
      new X509Certificate(kept).checkPrivateKey(
        createPrivateKey(readFileSync(join(pending, "key.pem"), "utf8")),
      ),
    );
    const denied = await ca.request("/v1/renew", {
      method: "POST",
      body: {},
      cert: original,
      key: readFileSync(join(out, "domain.key"), "utf8"),
    });
    assert.equal(denied.status, 403, "the CA no longer renews the certificate in the files");

    rmSync(failFlag);
    const renewed = await agent(["renew", "--force", "--name", "r"]);
    assert.equal(renewed.code, 0, renewed.stdout + renewed.stderr);
    const now = readFileSync(join(out, "domain.crt"), "utf8");
    assert.notEqual(serialOf(now), serialOf(original));
    assert.notEqual(serialOf(now), serialOf(kept), "a new certificate, renewed from the kept one");
    assert.equal(existsSync(join(pending, "cert.pem")), false, "nothing kept once deployed");
    assert.equal(existsSync(join(pending, "key.pem")), false);
    const status = await agent(["status", "--json"]);
    assert.equal(
      (JSON.parse(status.stdout) as Array<{ serial: string }>)[0]?.serial.toLowerCase(),
      serialOf(now),
      "the record names what is deployed",
    );
  });
});
