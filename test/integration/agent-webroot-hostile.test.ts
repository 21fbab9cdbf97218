import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { selfSignedCert } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const GOOD_TOKEN = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";

/**
 * A hostile ACME server (a named fake: a real ACME CA cannot be made to send these tokens), over
 * real HTTPS. It accepts any account and order and hands out one http-01 challenge whose token
 * the test chooses. It records whether the agent told it to validate (POST to the challenge) and
 * runs `onRespond` then, while the agent's file is in place.
 */
interface Hostile {
  server: Server;
  token: string;
  responded: number;
  onRespond: () => void;
}

function hostileAcme(certPem: string, keyPem: string): Hostile {
  const h: Hostile = {
    server: undefined as unknown as Server,
    token: GOOD_TOKEN,
    responded: 0,
    onRespond() {},
  };
  let nonce = 0;
  h.server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    const base = `https://127.0.0.1:${(h.server.address() as AddressInfo).port}`;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "replay-nonce": `n${++nonce}`,
        "content-type": "application/json",
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      if (path === "/dir")
        return send(200, {
          newNonce: `${base}/nonce`,
          newAccount: `${base}/acct`,
          newOrder: `${base}/order`,
          revokeCert: `${base}/revoke`,
          keyChange: `${base}/key-change`,
        });
      if (path === "/nonce") return send(200);
      if (path === "/acct") return send(200, { status: "valid" }, { location: `${base}/acct/1` });
      if (path === "/order")
        return send(
          201,
          {
            status: "pending",
            expires: new Date(Date.now() + 3600_000).toISOString(),
            identifiers: [{ type: "dns", value: "a.test" }],
            authorizations: [`${base}/authz/1`],
            finalize: `${base}/finalize/1`,
          },
          { location: `${base}/order/1` },
        );
      if (path === "/authz/1")
        return send(200, {
          status: h.responded > 0 ? "invalid" : "pending",
          expires: new Date(Date.now() + 3600_000).toISOString(),
          identifier: { type: "dns", value: "a.test" },
          challenges: [
            {
              type: "http-01",
              url: `${base}/chall/1`,
              token: h.token,
              status: h.responded > 0 ? "invalid" : "pending",
              ...(h.responded > 0
                ? {
                    error: { type: "urn:ietf:params:acme:error:unauthorized", detail: "refused by the test" },
                  }
                : {}),
            },
          ],
        });
      if (path === "/chall/1") {
        h.responded++;
        h.onRespond();
        return send(200, { type: "http-01", url: `${base}/chall/1`, token: h.token, status: "processing" });
      }
      send(404, { type: "urn:ietf:params:acme:error:malformed", detail: "no such resource" });
    });
  });
  return h;
}

/** Every path under DIR, symlinks shown with their target, files with their content. */
function tree(dir: string, prefix = ""): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return [`${prefix}${name} -> link`];
      if (st.isDirectory()) return [`${prefix}${name}/`, ...tree(p, `${prefix}${name}/`)];
      return [`${prefix}${name} = ${readFileSync(p, "utf8")}`];
    });
}

describe("the webroot http-01 solver against a hostile ACME server", () => {
  let dir: string;
  let hostile: Hostile;
  let caFile: string;
  let directory: string;
  /** test dir: webroot/, outside/precious (what an attacker wants written or removed), runs' state */
  let webroot: string;
  let outside: string;
  let run = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-webroot-hostile-"));
    const { certPem, keyPem } = selfSignedCert("/CN=hostile acme", ["subjectAltName=IP:127.0.0.1"]);
    caFile = join(dir, "acme-ca.pem");
    writeFileSync(caFile, certPem);
    hostile = hostileAcme(certPem, keyPem);
    await new Promise<void>((resolve) => hostile.server.listen(0, "127.0.0.1", resolve));
    directory = `https://127.0.0.1:${(hostile.server.address() as AddressInfo).port}/dir`;
  });
  after(() => {
    hostile.server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    run++;
    webroot = join(dir, `webroot-${run}`);
    outside = join(dir, `outside-${run}`);
    mkdirSync(webroot);
    mkdirSync(outside);
    writeFileSync(join(outside, "precious"), "precious");
    hostile.token = GOOD_TOKEN;
    hostile.responded = 0;
    hostile.onRespond = () => {};
  });

  const certAcme = () =>
    runAsync(AGENT, [
      "cert",
      "--name",
      "h",
      "--acme",
      directory,
      "--acme-ca-cert",
      caFile,
      "--webroot",
      webroot,
      "--dns",
      "a.test",
      "--out",
      join(dir, `out-${run}`),
      "--home",
      join(dir, `home-${run}`),
      "--log-level",
      "warn",
    ]);
  const lastLine = (stderr: string) => stderr.trim().split("\n").at(-1) ?? "";

  test("a token that climbs out (../) is refused before anything is written, and nothing is validated", async () => {
    // from WEBROOT/.well-known/acme-challenge, three levels up is the test dir
    hostile.token = `../../../outside-${run}/precious`;
    const r = await certAcme();
    assert.deepEqual(tree(outside), ["precious = precious"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(lastLine(r.stderr), /invalid challenge token "\.\.\/\.\.\/\.\.\/outside-\d+\/precious"/);
    assert.equal(hostile.responded, 0, "the agent never asked the server to validate");
    assert.deepEqual(tree(webroot), [".well-known/", ".well-known/acme-challenge/"]);
  });

  test("tokens that are not base64url of at least 128 bits are refused: short, padded, a slash, a dot", async () => {
    for (const token of ["c2hvcnQ", `${GOOD_TOKEN}==`, `${GOOD_TOKEN}/x`, `.${GOOD_TOKEN}`]) {
      hostile.token = token;
      const r = await certAcme();
      assert.equal(r.code, 1, r.stderr);
      assert.match(lastLine(r.stderr), /invalid challenge token/, token);
    }
    assert.equal(hostile.responded, 0);
    assert.deepEqual(tree(webroot), [".well-known/", ".well-known/acme-challenge/"]);
  });

  test("a symlinked .well-known is refused, not followed: nothing lands where it points", async () => {
    symlinkSync(outside, join(webroot, ".well-known"));
    const r = await certAcme();
    assert.deepEqual(tree(outside), ["precious = precious"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(lastLine(r.stderr), /\.well-known is a symbolic link: --webroot refuses to follow/);
    assert.equal(hostile.responded, 0);
  });

  test("a symlinked acme-challenge is refused, not followed", async () => {
    mkdirSync(join(webroot, ".well-known"));
    symlinkSync(outside, join(webroot, ".well-known", "acme-challenge"));
    const r = await certAcme();
    assert.deepEqual(tree(outside), ["precious = precious"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(lastLine(r.stderr), /acme-challenge is a symbolic link/);
    assert.equal(hostile.responded, 0);
  });

  test("a symlink planted at the token's name is replaced inside acme-challenge, never written through", async () => {
    const challengeDir = join(webroot, ".well-known", "acme-challenge");
    mkdirSync(challengeDir, { recursive: true });
    symlinkSync(join(outside, "precious"), join(challengeDir, GOOD_TOKEN));
    let seen = "";
    hostile.onRespond = () => {
      const st = lstatSync(join(challengeDir, GOOD_TOKEN));
      seen = `${st.isFile() ? "file" : "not a file"}: ${readFileSync(join(challengeDir, GOOD_TOKEN), "utf8")}`;
    };
    const r = await certAcme();
    assert.equal(r.code, 1, r.stderr);
    assert.match(lastLine(r.stderr), /http-01 for a\.test failed/);
    assert.equal(hostile.responded, 1);
    assert.match(seen, new RegExp(`^file: ${GOOD_TOKEN}\\.[A-Za-z0-9_-]{43}$`));
    assert.deepEqual(tree(outside), ["precious = precious"]);
    assert.deepEqual(tree(webroot), [".well-known/", ".well-known/acme-challenge/"], "its own file removed");
  });

  test("clean-up removes only the file the agent wrote: one put in its place meanwhile stays", async () => {
    const challengeDir = join(webroot, ".well-known", "acme-challenge");
    hostile.onRespond = () => {
      renameSync(join(challengeDir, GOOD_TOKEN), join(outside, "moved"));
      writeFileSync(join(challengeDir, GOOD_TOKEN), "someone else's");
    };
    const r = await certAcme();
    assert.equal(readFileSync(join(challengeDir, GOOD_TOKEN), "utf8"), "someone else's");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no longer the file the agent wrote: left in place/);
    assert.ok(existsSync(join(outside, "moved")));
  });
});
