import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const PKG = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

for (const program of ["ca", "agent"] as const) {
  const bin = fileURLToPath(new URL(`../../services/${program}/main.js`, import.meta.url));
  test(`certyard-${program} --version and -V print its name and package.json's version`, () => {
    for (const flag of ["--version", "-V"]) {
      const r = spawnSync(process.execPath, [bin, flag], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `certyard-${program} ${PKG.version}\n`);
    }
  });
}
