import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, test } from "node:test";
import bcrypt from "bcryptjs";
import {
  applyHtpasswd,
  checkPassword,
  entryLine,
  findHash,
  hashPassword,
  parseCost,
  planAdd,
  planHtpasswd,
  planRemove,
  readPasswordLine,
  validatePassword,
  validateUser,
} from "../../../../services/agent/actions/htpasswd.js";

const LINE = /^alice:\$2y\$10\$[./A-Za-z0-9]{53}$/;

describe("htpasswd entries", () => {
  test("a hash is Apache's $2y$ bcrypt at cost 10: user:$2y$10$ and 53 characters", () => {
    const line = entryLine("alice", hashPassword("s3cret"));
    assert.match(line, LINE);
    assert.match(hashPassword("s3cret", 4), /^\$2y\$04\$[./A-Za-z0-9]{53}$/);
  });

  test("round trip: the right password matches, another does not", () => {
    const hash = hashPassword("correct horse");
    assert.equal(checkPassword(hash, "correct horse"), true);
    assert.equal(checkPassword(hash, "correct horse "), false);
    assert.equal(checkPassword(hash, "Correct horse"), false);
  });

  test("the $2y$ hash is bcryptjs's own hash with the prefix renamed", () => {
    const hash = hashPassword("pw");
    assert.equal(bcrypt.compareSync("pw", hash.replace("$2y$", "$2b$")), true);
    assert.equal(bcrypt.compareSync("pw", hash.replace("$2y$", "$2a$")), true);
  });

  test("$2a$ and $2b$ entries written by other tools verify too", () => {
    const b = bcrypt.hashSync("pw", 4);
    assert.equal(checkPassword(b, "pw"), true);
    assert.equal(checkPassword(b.replace("$2b$", "$2a$"), "pw"), true);
  });

  test("an entry that is not bcrypt is refused: the registry would not accept it either", () => {
    assert.throws(() => checkPassword("$apr1$abc$def", "pw"), /not a bcrypt hash/);
  });

  test("user names: no ':' or whitespace, not empty, not a comment", () => {
    for (const bad of ["", "a:b", "a b", "a\tb", "#admin", "a\u0001"]) {
      assert.throws(() => validateUser(bad), RangeError, JSON.stringify(bad));
    }
    validateUser("ci-bot_01@example.org");
  });

  test("passwords: not empty, at most bcrypt's 72 bytes", () => {
    assert.throws(() => validatePassword(""), /empty/);
    assert.throws(() => validatePassword("é".repeat(37)), /72 bytes/);
    validatePassword("x".repeat(72));
  });

  test("--cost takes 4 to 31", () => {
    assert.equal(parseCost(undefined), 10);
    assert.equal(parseCost("12"), 12);
    for (const bad of ["3", "32", "x", "10.5"]) assert.throws(() => parseCost(bad), RangeError);
  });
});

describe("htpasswd plan", () => {
  const h = (n: number) => `$2y$10$${String(n).repeat(53).slice(0, 53)}`;

  test("add to a new file", () => {
    assert.equal(planAdd(null, "alice", h(1)), `alice:${h(1)}\n`);
  });

  test("add replaces the user's line where it stands and keeps every other line in order", () => {
    const current = `# registry users\nbob:${h(2)}\n\nalice:${h(1)}\ncarol:${h(3)}\n`;
    assert.equal(
      planAdd(current, "alice", h(4)),
      `# registry users\nbob:${h(2)}\n\nalice:${h(4)}\ncarol:${h(3)}\n`,
    );
  });

  test("add appends a new user, also to a file without a final newline", () => {
    assert.equal(planAdd(`bob:${h(2)}`, "alice", h(1)), `bob:${h(2)}\nalice:${h(1)}\n`);
  });

  test("duplicate lines of the user collapse into one (the registry would have used the last)", () => {
    assert.equal(
      planAdd(`alice:${h(1)}\nbob:${h(2)}\nalice:${h(3)}\n`, "alice", h(4)),
      `alice:${h(4)}\nbob:${h(2)}\n`,
    );
  });

  test("a user is matched by the whole name, not a prefix", () => {
    assert.equal(planAdd(`alice2:${h(2)}\n`, "alice", h(1)), `alice2:${h(2)}\nalice:${h(1)}\n`);
  });

  test("remove keeps the others; removing a missing user fails", () => {
    assert.equal(planRemove(`alice:${h(1)}\nbob:${h(2)}\n`, "alice"), `bob:${h(2)}\n`);
    assert.throws(() => planRemove(`bob:${h(2)}\n`, "alice"), /no user "alice"/);
    assert.throws(() => planRemove(null, "alice"), /no user "alice"/);
    assert.equal(planHtpasswd(`alice:${h(1)}\n`, { op: "remove", user: "alice" }), "");
  });

  test("the hash is read as the registry reads it: trimmed, the last line wins", () => {
    assert.equal(findHash(`  alice:${h(1)}  \nalice:${h(2)}\n`, "alice"), h(2));
    assert.equal(findHash(`#alice:${h(1)}\n`, "alice"), null);
  });
});

describe("htpasswd on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "certyard-htpasswd-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("add creates the parent directory and a 0644 file even under umask 077", () => {
    const file = join(dir, "auth", "nested", "htpasswd");
    const old = process.umask(0o077);
    try {
      const r = applyHtpasswd("add", { file, user: "alice", password: "pw1", cost: 4 });
      assert.deepEqual(r, { ok: true, message: `added alice in ${file}` });
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.match(readFileSync(file, "utf8"), /^alice:\$2y\$04\$[./A-Za-z0-9]{53}\n$/);
  });

  test("add and remove keep the mode and group of an existing file (0640 for the registry's group)", () => {
    const file = join(dir, "narrowed");
    applyHtpasswd("add", { file, user: "alice", password: "pw1", cost: 4 });
    chmodSync(file, 0o640);
    const gid = process.getuid?.() === 0 ? 4242 : statSync(file).gid;
    if (process.getuid?.() === 0) chownSync(file, 0, gid);
    applyHtpasswd("add", { file, user: "bob", password: "pw2", cost: 4 });
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(statSync(file).gid, gid);
    applyHtpasswd("remove", { file, user: "alice" });
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(statSync(file).gid, gid);
    assert.match(readFileSync(file, "utf8"), /^bob:/);
  });

  test("verify: 0 for the right password, 1 for a wrong one or a missing user", () => {
    const file = join(dir, "v");
    applyHtpasswd("add", { file, user: "alice", password: "pw1", cost: 4 });
    assert.equal(applyHtpasswd("verify", { file, user: "alice", password: "pw1" }).ok, true);
    assert.deepEqual(applyHtpasswd("verify", { file, user: "alice", password: "pw2" }), {
      ok: false,
      message: "wrong password for alice",
    });
    assert.equal(applyHtpasswd("verify", { file, user: "bob", password: "pw1" }).ok, false);
  });

  test("add again replaces; remove; remove of a missing user throws; empty password refused", () => {
    const file = join(dir, "r");
    writeFileSync(file, "# keep me\n");
    applyHtpasswd("add", { file, user: "alice", password: "a", cost: 4 });
    applyHtpasswd("add", { file, user: "bob", password: "b", cost: 4 });
    assert.equal(
      applyHtpasswd("add", { file, user: "alice", password: "c", cost: 4 }).message,
      `replaced alice in ${file}`,
    );
    assert.equal(applyHtpasswd("verify", { file, user: "alice", password: "c" }).ok, true);
    assert.equal(applyHtpasswd("remove", { file, user: "bob" }).ok, true);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.equal(lines[0], "# keep me");
    assert.match(lines[1] ?? "", /^alice:/);
    assert.equal(lines.length, 3);
    assert.throws(() => applyHtpasswd("remove", { file, user: "bob" }), /no user "bob"/);
    assert.throws(() => applyHtpasswd("add", { file, user: "dave", password: "", cost: 4 }), /empty/);
    assert.throws(
      () => applyHtpasswd("remove", { file: join(dir, "absent"), user: "bob" }),
      /does not exist/,
    );
  });
});

describe("the password from stdin", () => {
  test("one line, without its line ending; the rest is not read as part of it", async () => {
    assert.equal(await readPasswordLine(Readable.from(["pw\n"])), "pw");
    assert.equal(await readPasswordLine(Readable.from(["p", "w\r\nmore\n"])), "pw");
    assert.equal(await readPasswordLine(Readable.from(["no newline"])), "no newline");
    assert.equal(await readPasswordLine(Readable.from(["\n"])), "");
    assert.equal(await readPasswordLine(Readable.from([])), "");
  });
});
