import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { httpsRequest, type RequestOptions } from "../helpers/ca.js";
import { caCliAsync, serveProcess } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { PG_BIN, startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { sh } from "./support.js";

/**
 * --db against a real PostgreSQL 15 (test/helpers/postgres.ts): the URLs certyard accepts are
 * ones libpq (psql) connects with, to the host, port, database and user certyard reads from them.
 * The CA then runs on it: init, the CLI's commands and serve.
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

  test("init, the CLI and serve on PostgreSQL: sign, revoke, the CRL and the inventory; a used database is refused by init", async () => {
    const data = join(dir, "data");
    const made = await caCliAsync(["init", "--data", data, "--db", pg.url]);
    assert.equal(made.code, 0, made.stderr);
    assert.ok(!existsSync(join(data, "certyard.db")), "no SQLite file beside the keys");
    const token = await caCliAsync([
      "token",
      "create",
      "--name",
      "web",
      "--dns",
      "*.lan",
      "--data",
      data,
      "--db",
      pg.socketUrl,
    ]);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(await pg.sql("select count(*) from tokens where name = 'web'"), "1\n");
    const serve = await serveProcess(data, ["--db", pg.socketUrl]);
    try {
      const rootPem = readFileSync(join(data, "root.crt"), "utf8");
      const admin = readFileSync(join(data, "admin-token"), "utf8").trim();
      const call = (path: string, o: RequestOptions = {}) => httpsRequest(serve.url + path, rootPem, o);
      assert.equal((await call("/healthz")).status, 200);
      const csr = makeCsr({ san: ["DNS:a.lan"] }).csrPem;
      const signed = await call("/v1/sign", { body: { csr }, token: token.stdout.trim() });
      assert.equal(signed.status, 201, signed.body.toString());
      const { serial } = signed.json<{ serial: string }>();
      assert.equal(await pg.sql(`select count(*) from certificates where serial = '${serial}'`), "1\n");
      const revoked = await call("/v1/revoke", { body: { serial }, token: admin });
      assert.equal(revoked.status, 200, revoked.body.toString());
      const crl = await call("/crl");
      assert.equal(crl.status, 200);
      writeFileSync(join(dir, "crl.der"), crl.body);
      const text = await sh("openssl", [
        "crl",
        "-inform",
        "DER",
        "-noout",
        "-text",
        "-in",
        join(dir, "crl.der"),
      ]);
      assert.match(text.stdout.toUpperCase(), new RegExp(serial.toUpperCase()));
      const listed = await caCliAsync(["certs", "list", "--json", "--data", data, "--db", pg.url]);
      assert.equal(listed.code, 0, listed.stderr);
      // the CLI's default states leave the revoked out; the serving certificate is there
      const rows = JSON.parse(listed.stdout) as { serial: string }[];
      assert.ok(rows.length >= 1 && !rows.some((c) => c.serial === serial), listed.stdout);
      const all = await call("/v1/certs?state=revoked", { token: admin });
      assert.deepEqual(
        all.json<{ certificates: { serial: string }[] }>().certificates.map((c) => c.serial),
        [serial],
      );
    } finally {
      assert.equal(await serve.stop(), 0);
    }
    const again = await caCliAsync(["init", "--data", join(dir, "other"), "--db", pg.url]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /holds another CA's data already: give init an empty database; nothing was changed\n$/,
    );
    assert.ok(!existsSync(join(dir, "other", "root.key")));
  });
});
