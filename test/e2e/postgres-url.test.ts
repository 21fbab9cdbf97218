import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { caCliAsync } from "../helpers/ca-process.js";
import { PG_BIN, startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { sh } from "./support.js";

/**
 * --db against a real PostgreSQL 15 (test/helpers/postgres.ts): the URLs certyard accepts are
 * ones libpq (psql) connects with, to the host, port, database and user certyard reads from them.
 * Until the PostgreSQL store exists the CA refuses them in one line and writes nothing.
 */
describe("--db postgres:// against a real PostgreSQL", () => {
  let pg: TestPostgres;
  const dir = mkdtempSync(join(tmpdir(), "certyard-pgurl-"));
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("TCP and Unix-socket URLs: what --db reads from them is where psql connects", async () => {
    const urls = [
      pg.url,
      pg.url.replace(/^postgres:/, "postgresql:").replace("postgres@", "postgres:any%20password@"),
      pg.socketUrl,
    ];
    for (const url of urls) {
      const loc = parseDbUrl(url, dir);
      assert.equal(loc.dialect, "postgres", url);
      if (loc.dialect !== "postgres") continue;
      const r = await sh(join(PG_BIN, "psql"), [
        "-X",
        "-A",
        "-t",
        "-F",
        " ",
        url,
        "-c",
        "select current_database(), current_user, current_setting('port'), coalesce(inet_server_addr()::text, 'socket')",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const host = loc.host.startsWith("/") ? "socket" : `${loc.host}/32`;
      assert.equal(r.stdout.trim(), `${loc.database} ${loc.user} ${loc.port} ${host}`, url);
      if (url === pg.socketUrl) assert.equal(loc.host, pg.dir);
    }
  });

  test("the CA refuses a reachable PostgreSQL in one line for now, and writes nothing", async () => {
    const data = join(dir, "data");
    for (const args of [
      ["init", "--data", data, "--db", pg.url],
      ["serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1", "--db", pg.socketUrl],
    ]) {
      const r = await caCliAsync(args);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /^certyard-ca: --db \S+: PostgreSQL support is not in this build yet; .*\n$/);
    }
    assert.ok(!existsSync(data));
    assert.equal(await pg.sql("select count(*) from pg_tables where schemaname = 'public'"), "0\n");
  });
});
