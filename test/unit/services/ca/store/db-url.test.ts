import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { parseDbUrl, redact, sqliteFile } from "../../../../../services/ca/store/db-url.js";
import { InputError } from "../../../../../shared/errors.js";

const refused = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseDbUrl(text, "/data"),
    (e: unknown) => e instanceof InputError && pattern.test(e.message) && !e.message.includes("\n"),
    text,
  );

describe("--db", () => {
  test("without --db the database is certyard.db in the data directory", () => {
    assert.deepEqual(parseDbUrl(undefined, "/srv/ca"), { dialect: "sqlite", path: "/srv/ca/certyard.db" });
  });

  test("sqlite:PATH, absolute or relative to the working directory", () => {
    assert.deepEqual(parseDbUrl("sqlite:/var/lib/ca.db", "/data"), {
      dialect: "sqlite",
      path: "/var/lib/ca.db",
    });
    assert.deepEqual(parseDbUrl("SQLite:db/ca.db", "/data"), {
      dialect: "sqlite",
      path: resolve("db/ca.db"),
    });
    assert.equal(sqliteFile(parseDbUrl(" sqlite:/x/ca.db ", "/data"), "backup"), "/x/ca.db");
  });

  test("a sqlite: location that is no file path is refused", () => {
    refused("sqlite:", /^--db "sqlite:": no path; give sqlite:PATH/);
    refused("sqlite://host/ca.db", /not a URL with a host/);
    refused("sqlite:///abs/ca.db", /not a URL with a host/);
    refused("sqlite::memory:", /a file path/);
    refused("sqlite:file:ca.db?mode=memory", /a file path/);
  });

  test("PostgreSQL URLs as libpq writes them: host and port, or a socket directory", () => {
    const tcp = parseDbUrl("postgres://certyard:s%40cret@db.lan:6543/ca?sslmode=verify-full", "/data");
    assert.equal(tcp.dialect, "postgres");
    if (tcp.dialect !== "postgres") return;
    assert.deepEqual(
      { host: tcp.host, port: tcp.port, database: tcp.database, user: tcp.user },
      { host: "db.lan", port: 6543, database: "ca", user: "certyard" },
    );
    assert.equal(tcp.redacted, "postgres://certyard:***@db.lan:6543/ca?sslmode=verify-full");
    for (const text of ["postgresql://u@/ca?host=/run/postgresql", "postgres:///ca?host=/run/postgresql"]) {
      const socket = parseDbUrl(text, "/data");
      assert.ok(socket.dialect === "postgres", text);
      assert.deepEqual([socket.host, socket.port, socket.database], ["/run/postgresql", 5432, "ca"], text);
    }
    const other = parseDbUrl("postgres://u@/ca?host=/tmp/pg&port=5433", "/data");
    assert.ok(other.dialect === "postgres");
    assert.deepEqual([other.host, other.port], ["/tmp/pg", 5433]);
    const v6 = parseDbUrl("postgres://u:p@[::1]:5433/my%20db", "/data");
    assert.ok(v6.dialect === "postgres");
    assert.deepEqual([v6.host, v6.port, v6.database], ["[::1]", 5433, "my db"]);
  });

  test("a bad PostgreSQL URL is refused in one line that never shows the password", () => {
    const cases: [string, RegExp][] = [
      ["postgres://u:hunter2@db.lan:99999/ca", /port 99999 is out of range/],
      ["postgres://u:hunter2@db.lan:x1/ca", /"x1" is not a port number/],
      ["postgres://u:hunter2@db.lan", /name one database/],
      ["postgres://u:hunter2@db.lan/a/b", /name one database/],
      ["postgres://u:hunter2@/ca", /no host/],
      ["postgres://u:hunter2@db.lan/ca?host=/run/pg", /a host and \?host= both given/],
      ["postgres://u:hunter2@/ca?host=db.lan", /\?host= takes the directory of a Unix socket/],
      ["postgres://u:hunter2@db.lan/ca?options=-c%20x", /unknown parameter options/],
      ["postgres://u:hunter2@db.lan/ca?sslmode=yes", /sslmode takes disable/],
      ["postgres://u:hunter2@db.lan/ca?sslmode=require&sslmode=disable", /sslmode given twice/],
      ["postgres://u:hunter2@db.lan/ca#x", /fragment/],
      ["postgres://u:hunter2@db.lan:5433/ca?port=5434", /a port and \?port= both given/],
      ["postgres://u:hunter2@/ca?host=/run/pg&port=0", /port 0 is out of range/],
      ["postgres://u:hunter2@a,b/ca", /one host only|not a URL/],
    ];
    for (const [text, pattern] of cases) {
      refused(text, pattern);
      assert.throws(
        () => parseDbUrl(text, "/data"),
        (e: Error) => !e.message.includes("hunter2"),
        text,
      );
    }
  });

  test("anything else is refused with the forms it takes", () => {
    refused(
      "mysql://u:hunter2@db/ca",
      /^--db "mysql:\/\/u:\*\*\*@db\/ca": unknown scheme mysql:; give sqlite:\/.* or postgres:\/\//,
    );
    refused("/var/lib/ca.db", /no scheme; give sqlite:/);
    refused("", /no scheme/);
  });

  test("what archives SQLite's file refuses PostgreSQL in one line, without the password", () => {
    assert.throws(
      () => sqliteFile(parseDbUrl("postgres://u:hunter2@db.lan/ca", "/data"), "backup"),
      (e: unknown) =>
        e instanceof InputError &&
        e.message ===
          "backup archives a SQLite database; --db postgres://u:***@db.lan/ca is PostgreSQL: back it up with pg_dump, or make a SQLite copy with db copy --to sqlite:FILE",
    );
    assert.equal(redact("postgresql://a:b:c@h/d"), "postgresql://a:***@h/d");
  });
});
