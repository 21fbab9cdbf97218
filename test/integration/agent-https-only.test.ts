import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeJoin } from "../../shared/join.js";
import { fingerprint } from "../../shared/x509/pem.js";
import { selfSignedCert } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));

/**
 * A CA and ACME directory on plain http (a named fake: certyard serves only https). It answers
 * what the agent would ask first, so an agent that takes http:// gets on with it: the root for
 * bootstrap (the fingerprint matches, so a pin checked over http would pass) and a directory.
 */
describe("the agent refuses http:// for --ca, join strings and --acme", () => {
  let dir: string;
  let server: Server;
  let base: string;
  let fp: string;
  const requests: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-https-only-"));
    const { certPem } = selfSignedCert("/CN=plain http root");
    fp = fingerprint(new X509Certificate(certPem).raw);
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.setHeader("content-type", "application/json");
      if (req.url === "/v1/root") return res.end(JSON.stringify({ pem: certPem, sha256: fp }));
      if (req.url === "/acme/directory")
        return res.end(
          JSON.stringify({ newNonce: `${base}/n`, newAccount: `${base}/a`, newOrder: `${base}/o` }),
        );
      res.writeHead(404).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = async (home: string, args: string[], what: RegExp) => {
    requests.length = 0;
    const r = await runAsync(AGENT, [...args, "--home", home]);
    assert.deepEqual(requests, [], "nothing was sent over http");
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, what);
    assert.equal(existsSync(join(home, "ca.json")), false, "nothing pinned");
  };

  test("bootstrap --ca http://...", async () => {
    await refused(
      join(dir, "h1"),
      ["bootstrap", "--ca", base, "--fingerprint", fp],
      /^certyard-agent: --ca "http:\/\/127\.0\.0\.1:\d+" is http, not https: .*https:\/\/ca\.lan:8443\n$/,
    );
  });

  test("a join string carrying an http:// URL, to bootstrap and to cert", async () => {
    const joinString = encodeJoin({ url: base, fingerprint: fp, token: "t0ken" });
    const said = /^certyard-agent: the join string's CA URL "http:\/\/127\.0\.0\.1:\d+" is http, not https/;
    await refused(join(dir, "h2"), ["bootstrap", "--join", joinString], said);
    await refused(
      join(dir, "h3"),
      ["cert", "--name", "j", "--join", joinString, "--dns", "a.lan", "--out", join(dir, "out3")],
      said,
    );
  });

  test("cert --acme http://.../acme/directory", async () => {
    await refused(
      join(dir, "h4"),
      [
        "cert",
        "--name",
        "a",
        "--acme",
        `${base}/acme/directory`,
        "--dns",
        "a.lan",
        "--out",
        join(dir, "out4"),
      ],
      /^certyard-agent: --acme "http:\/\/127\.0\.0\.1:\d+\/acme\/directory" is http, not https: .*acme\/directory\n$/,
    );
    assert.equal(existsSync(join(dir, "out4")), false);
  });
});
