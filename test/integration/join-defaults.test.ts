import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { caCli } from "../helpers/ca-process.js";

const _BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));
const cli = (args: string[]) => {
  const r = caCli(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

const dir = mkdtempSync(join(tmpdir(), "certyard-join-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("token create --join makes a single-use token that expires in 24 h, unless --uses and --expires say otherwise", () => {
  const data = join(dir, "data");
  cli(["init", "--data", data]);
  const create = (name: string, more: string[] = []) =>
    cli([
      "token",
      "create",
      "--data",
      data,
      "--name",
      name,
      "--dns",
      "a.lan",
      "--url",
      "https://ca.lan:8443",
      ...more,
    ]);
  const started = Date.now();
  assert.match(create("pasted", ["--join"]), /^cyj1_/);
  create("told", ["--join", "--uses", "5", "--expires", "7d"]);
  create("plain");
  const tokens = JSON.parse(cli(["token", "list", "--data", data, "--json"])) as {
    name: string;
    usesLeft: number | null;
    expiresAt: number | null;
  }[];
  const by = (name: string) => tokens.find((t) => t.name === name);
  const day = 24 * 3600_000;
  assert.equal(by("pasted")?.usesLeft, 1);
  const expires = by("pasted")?.expiresAt ?? 0;
  assert.ok(
    expires >= started + day && expires <= Date.now() + day,
    `expires ${new Date(expires).toISOString()}`,
  );
  assert.equal(by("told")?.usesLeft, 5);
  assert.ok((by("told")?.expiresAt ?? 0) >= started + 7 * day);
  assert.equal(by("plain")?.usesLeft, null, "a token without --join keeps its unlimited default");
  assert.equal(by("plain")?.expiresAt, null);
});
