import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runDaemon } from "../../../../../services/agent/commands/run.js";
import { lineLogger } from "../../../../../shared/line-log.js";

const home = mkdtempSync(join(tmpdir(), "certyard-run-collect-"));
after(() => rmSync(home, { recursive: true, force: true }));

test("the daemon collects its garbage once when it goes to sleep after its start's work", async () => {
  let collections = 0;
  await runDaemon({
    home,
    log: lineLogger("certyard-agent", "silent", "json"),
    logLevel: "silent",
    logFormat: "json",
    verifyTimeout: "60s",
    verifyTimeoutMs: 60_000,
    collect: () => {
      collections++;
      // then a SIGTERM while it sleeps: its own handler stops it, and the sleep ends at once
      setImmediate(() => process.emit("SIGTERM", "SIGTERM"));
    },
  });
  // not bootstrapped: its start notes there is no root to check, then sleeps; collected before
  assert.equal(collections, 1);
});
