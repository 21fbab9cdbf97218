import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { sh } from "./support.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };

// The README's install: a tarball packed in the clone, installed globally (here under a prefix
// of its own), so cron and systemd call certyard by an absolute path outside any clone.
describe("install: npm pack, then npm install -g of the tarball", () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-install-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  test("both programs run from the prefix's bin, with the migrations, and nothing of the tests", async () => {
    const packed = await sh("npm", ["pack", "--pack-destination", work], { timeoutMs: 600_000, cwd: REPO });
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    assert.equal(tarball, `certyard-${PKG.version}.tgz`);
    const list = await sh("tar", ["-tzf", join(work, tarball ?? "")]);
    assert.match(list.stdout, /package\/dist\/services\/ca\/main\.js/);
    assert.match(list.stdout, /package\/migrations\/0000_init\.sql/);
    assert.doesNotMatch(list.stdout, /package\/dist\/test\/|package\/dist\/bench\/|package\/test\//);

    const prefix = join(work, "prefix");
    const installed = await sh(
      "npm",
      ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", join(work, tarball ?? "")],
      { timeoutMs: 900_000 },
    );
    assert.equal(installed.code, 0, installed.stderr);
    const bin = (name: string) => join(prefix, "bin", name);
    for (const name of ["certyard-ca", "certyard-agent"]) {
      assert.ok(statSync(bin(name)).mode & 0o111, `${name} is executable`);
      const v = await sh(bin(name), ["--version"], { cwd: work });
      assert.equal(v.stdout, `${name} ${PKG.version}\n`, v.stderr);
    }
    const data = join(work, "data");
    const init = await sh(bin("certyard-ca"), ["init", "--data", data], { cwd: work });
    assert.equal(init.code, 0, init.stderr);
    const tokens = await sh(bin("certyard-ca"), ["token", "list", "--data", data], { cwd: work });
    assert.equal(tokens.code, 0, tokens.stderr);
  });
});
