import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/**
 * The whole integration suite again, on PostgreSQL: every CA it starts gets a database of its own
 * on one throwaway PostgreSQL 15 (test/helpers/test-db.ts), every command it runs is given it.
 * Run alone: `npm run build && node --test dist/test/e2e/integration-pg.test.js` (as root, after
 * test/e2e/setup.sh).
 */
const INTEGRATION = fileURLToPath(new URL("../integration/", import.meta.url));

/**
 * Files about SQLite itself, which run on SQLite only (README, "Tests"): each reason says why the
 * file has nothing to show on PostgreSQL, or where its PostgreSQL counterpart is.
 */
export const SQLITE_ONLY: Record<string, string> = {
  "admin-token-replica.test.js": "a replica on another's SQLite file; on PostgreSQL: e2e pg-limits.test",
  "backup.test.js": "backup archives the SQLite file (on PostgreSQL it refuses in one line: pg_dump)",
  "ca-data.test.js": "the SQLite file in the data directory: its modes, its loss, a restored older copy",
  "db-copy.test.js": "db copy between two SQLite files; into and out of PostgreSQL: e2e pg-copy.test",
  "db-faults.test.js":
    "kill -9 and another process's write lock on the SQLite file; PostgreSQL's: e2e replicas and pg-store",
  "db-flag.test.js":
    "--db sqlite:PATH and the default DATA/certyard.db; postgres:// URLs: e2e postgres-url.test",
  "hosts-store.test.js": "two connections on one SQLite file; on PostgreSQL: e2e pg-hosts.test",
  "replicas.test.js": "two serve processes on one SQLite file; on PostgreSQL: e2e replicas.test",
  "replicas-lease.test.js": "leases between processes on one SQLite file; on PostgreSQL: e2e replicas.test",
  "storage-faults.test.js":
    "a full or read-only disk under the SQLite file; PostgreSQL's outages: e2e pg-store and replicas",
};

describe("the integration suite on PostgreSQL", () => {
  let pg: TestPostgres;
  before(async () => {
    // every test file's CAs keep pools of up to 8 connections, two files at a time; nothing here
    // is about durability, which the crash tests of pg-*.test.ts see with fsync on
    pg = await startPostgres({
      database: "postgres_admin",
      settings: { max_connections: "300", fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
    });
  });
  after(async () => {
    await pg?.stop();
  });

  test("every integration test passes with CERTYARD_TEST_DB=postgres", {
    timeout: 20 * 60_000,
  }, async (t) => {
    const all = readdirSync(INTEGRATION).filter((f) => f.endsWith(".test.js"));
    for (const f of Object.keys(SQLITE_ONLY))
      assert.ok(all.includes(f), `SQLITE_ONLY names ${f}, which is not there`);
    const files = all.filter((f) => !(f in SQLITE_ONLY)).map((f) => join(INTEGRATION, f));
    const log = join(tmpdir(), `certyard-integration-pg-${process.pid}.log`);
    const out = createWriteStream(log);
    const started = Date.now();
    const { code, summary } = await new Promise<{ code: number | null; summary: string }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          ["--test", "--test-concurrency=2", "--test-timeout=180000", "--test-reporter=spec", ...files],
          {
            // without NODE_TEST_CONTEXT, which would make it a test file of this run that runs no files
            env: { ...suiteEnv(), CERTYARD_TEST_DB: "postgres", CERTYARD_TEST_PG_URL: pg.url },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let tail = "";
        const keep = (d: Buffer) => {
          out.write(d);
          tail = (tail + d.toString()).slice(-20_000);
        };
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        child.on("error", reject);
        child.on("close", (c) => out.end(() => resolve({ code: c, summary: tail })));
      },
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    t.diagnostic(`integration suite on PostgreSQL: exit ${code} in ${seconds} s, output in ${log}`);
    const failed = /^ℹ fail (\d+)$/m.exec(summary)?.[1];
    const passed = Number(/^ℹ pass (\d+)$/m.exec(summary)?.[1] ?? 0);
    assert.ok(passed > 0, `no test passed: see ${log}\n${summary.slice(-4000)}`);
    assert.equal(
      code,
      0,
      `the integration suite on PostgreSQL failed (${failed} failing, full output in ${log}):\n${failuresOf(summary)}`,
    );
  });
});

function suiteEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

/** The spec reporter's closing "failing tests" section, or the output's end. */
function failuresOf(output: string): string {
  const i = output.indexOf("✖ failing tests:");
  return (i >= 0 ? output.slice(i) : output).slice(-8000);
}
