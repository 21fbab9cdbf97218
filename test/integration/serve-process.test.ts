import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { serveProcess } from "../helpers/ca-process.js";

const dir = mkdtempSync(join(tmpdir(), "certyard-serve-process-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("one serving process restarts itself in place with the V8 flags: same pid, no child, announced once ready", async () => {
  const serve = await serveProcess(join(dir, "data"));
  try {
    const pid = serve.child.pid ?? 0;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    assert.ok(argv.includes("--max-semi-space-size=4"), argv.join(" "));
    assert.ok(argv.includes("serve"), argv.join(" "));
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    assert.equal(children, "", "no worker processes");
  } finally {
    assert.equal(await serve.stop(), 0);
  }
});
