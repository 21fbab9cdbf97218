import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { rootCertificates, storeNickname } from "../../services/agent/actions/root-certs.js";
import { AgentHome } from "../../services/agent/state.js";

/**
 * `trust --nss` and `trust --java` against the real readers: NSS's own TLS client (tstclnt, from
 * the same libnss3-tools as certutil) connecting with the browser databases trust wrote, and
 * keytool listing the keystore. The JDK's real cacerts is never written: --java goes to a copy
 * of it, named by CERTYARD_AGENT_JAVA_CACERTS.
 */

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  const { SUDO_USER: _, ...rest } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AGENT, ...args], {
      env: { ...rest, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A root and a leaf for 127.0.0.1 it signed, made by openssl. */
function rootAndLeaf(dir: string): { rootPem: string; leafPem: string; keyPem: string } {
  const f = (n: string) => join(dir, n);
  const ossl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ossl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("root.key"),
    "-out",
    f("root.pem"),
    "-subj",
    "/CN=Stores Test Root/O=certyard tests",
    "-days",
    "3",
  ]);
  ossl(["req", "-new", ...ec, "-keyout", f("leaf.key"), "-out", f("leaf.csr"), "-subj", "/CN=leaf"]);
  writeFileSync(f("ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  ossl([
    "x509",
    "-req",
    "-in",
    f("leaf.csr"),
    "-CA",
    f("root.pem"),
    "-CAkey",
    f("root.key"),
    "-CAcreateserial",
    "-out",
    f("leaf.pem"),
    "-days",
    "2",
    "-extfile",
    f("ext"),
  ]);
  return {
    rootPem: readFileSync(f("root.pem"), "utf8"),
    leafPem: readFileSync(f("leaf.pem"), "utf8"),
    keyPem: readFileSync(f("leaf.key"), "utf8"),
  };
}

describe("trust --nss and --java with the real tools", () => {
  let dir: string;
  let home: string;
  let server: Server;
  let port: number;
  let rootPem: string;
  const user = () => join(dir, "user");
  const emptyPath = () => join(dir, "empty-bin");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-stores-"));
    const made = rootAndLeaf(dir);
    rootPem = made.rootPem;
    home = join(dir, "agent");
    new AgentHome(home).saveCa({ url: "https://ca.invalid:8443", fingerprint: "unused" }, rootPem);
    server = createServer({ cert: made.leafPem, key: made.keyPem }, (_req, res) => {
      res.writeHead(200, { connection: "close" }).end("ok\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    port = typeof address === "object" && address ? address.port : 0;
    mkdirSync(emptyPath());
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** NSS's TLS client against the server (run asynchronously: the server is in this process), with this database's trust. */
  const nssConnects = (db: string): Promise<{ ok: boolean; out: string }> =>
    new Promise((resolve) => {
      const child = spawn("tstclnt", ["-h", "127.0.0.1", "-p", String(port), "-d", `sql:${db}`], {
        stdio: ["pipe", "pipe", "pipe"],
        timeout: 30_000,
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stdin.end("GET / HTTP/1.0\r\n\r\n");
      child.on("close", (code) => resolve({ ok: code === 0 && /\bok\n/.test(out), out }));
    });

  test("--nss: every Firefox and Chromium database found gets the root as a TLS CA; again changes nothing; --remove takes it out", async () => {
    const dbs = [
      join(user(), ".pki", "nssdb"),
      join(user(), ".mozilla", "firefox", "abc123.default-release"),
      join(user(), "snap", "firefox", "common", ".mozilla", "firefox", "x9.default"),
    ];
    mkdirSync(join(user(), ".mozilla", "firefox", "no-db-here"), { recursive: true });
    for (const db of dbs) {
      mkdirSync(db, { recursive: true });
      execFileSync("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"]);
    }
    const before = await nssConnects(dbs[1] as string);
    assert.equal(before.ok, false);
    assert.match(before.out, /SEC_ERROR_UNKNOWN_ISSUER/);

    const [root] = rootCertificates(rootPem);
    assert.ok(root);
    const nick = storeNickname(root);
    assert.equal(nick, `certyard Stores Test Root ${root.fingerprint.slice(0, 16)}`);
    const env = { HOME: user() };
    const first = await cli(["trust", "--nss", "--home", home], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, dbs.map((d) => `added "${nick}" to sql:${d}\n`).join(""));
    for (const db of dbs) {
      const listed = execFileSync("certutil", ["-L", "-d", `sql:${db}`], { encoding: "utf8" });
      assert.match(listed, new RegExp(`^${nick}\\s+C,,\\s*$`, "m"));
      const verdict = await nssConnects(db);
      assert.ok(verdict.ok, verdict.out);
    }
    const again = await cli(["trust", "--nss", "--home", home], env);
    assert.equal(again.stdout, dbs.map((d) => `unchanged sql:${d} ("${nick}")\n`).join(""));

    const removed = await cli(["trust", "--nss", "--remove", "--home", home], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, dbs.map((d) => `removed "${nick}" from sql:${d}\n`).join(""));
    assert.doesNotMatch(
      execFileSync("certutil", ["-L", "-d", `sql:${dbs[0]}`], { encoding: "utf8" }),
      /certyard/,
    );
    assert.match((await nssConnects(dbs[0] as string)).out, /SEC_ERROR_UNKNOWN_ISSUER/);
  });

  test("--nss: no certutil, or no database, is one line and exit 1", async () => {
    const noTool = await cli(["trust", "--nss", "--home", home], { HOME: user(), PATH: emptyPath() });
    assert.equal(noTool.code, 1);
    assert.equal(
      noTool.stderr,
      "certyard-agent: --nss: certutil not found on PATH (Debian: apt-get install libnss3-tools)\n",
    );
    const nobody = join(dir, "nobody");
    mkdirSync(nobody);
    const none = await cli(["trust", "--nss", "--home", home], { HOME: nobody });
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      new RegExp(
        `^certyard-agent: --nss: no NSS database under ${nobody} \\(looked for cert9\\.db in \\.pki/nssdb, .*\\n$`,
      ),
    );
  });

  test("--java: keytool imports the root into the keystore as certyard-<fingerprint>; the JDK's own cacerts is untouched", async () => {
    const keytool = realpathSync(
      execFileSync("sh", ["-c", "command -v keytool"], { encoding: "utf8" }).trim(),
    );
    const cacerts = join(dirname(dirname(keytool)), "lib", "security", "cacerts");
    const copy = join(dir, "cacerts");
    copyFileSync(cacerts, copy);
    const [root] = rootCertificates(rootPem);
    assert.ok(root);
    const alias = `certyard-${root.fingerprint.slice(0, 16)}`;
    const list = (store: string[]) =>
      spawnSync("keytool", ["-list", ...store, "-storepass", "changeit", "-alias", alias], {
        encoding: "utf8",
      });
    const env = { CERTYARD_AGENT_JAVA_CACERTS: copy };

    const first = await cli(["trust", "--java", "--home", home], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `imported ${alias} into ${copy}\n`);
    const listed = list(["-keystore", copy]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${alias}, .*trustedCertEntry`, "m"));
    const fp = root.fingerprint.toUpperCase().match(/../g)?.join(":");
    assert.ok(listed.stdout.includes(`(SHA-256): ${fp}`), listed.stdout);
    assert.equal(list(["-cacerts"]).status, 1, "the JDK's own cacerts does not have it");

    const again = await cli(["trust", "--java", "--home", home], env);
    assert.equal(again.stdout, `unchanged ${copy} (${alias})\n`);
    const removed = await cli(["trust", "--java", "--remove", "--home", home], env);
    assert.equal(removed.stdout, `removed ${alias} from ${copy}\n`);
    const gone = list(["-keystore", copy]);
    assert.match(gone.stdout + gone.stderr, /does not exist/);

    const noTool = await cli(["trust", "--java", "--home", home], { ...env, PATH: emptyPath() });
    assert.equal(noTool.code, 1);
    assert.equal(
      noTool.stderr,
      "certyard-agent: --java: keytool not found on PATH (Debian: apt-get install default-jre-headless)\n",
    );
  });
});
