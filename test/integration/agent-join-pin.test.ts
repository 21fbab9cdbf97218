import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeJoin } from "../../shared/join.js";
import { argv } from "../helpers/argv.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { runAsync } from "../helpers/run-async.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const agent = (args: string[]) => runAsync(AGENT, args);

/**
 * `cert --join` pins the CA its join string names only once the certificate was obtained: a
 * failed enrolment leaves the home's CA URL and root as they were (before, the URL was
 * rewritten first, so a wrong join string repointed every later renewal at it).
 */
describe("cert --join stores the CA only after the certificate was obtained", () => {
  let ca: TestCa;
  let fingerprint: string;
  let dir: string;
  /** the same CA under the other name its serving certificate carries */
  let otherUrl: string;
  before(async () => {
    ca = await startCa();
    fingerprint = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
    otherUrl = `https://localhost:${ca.port}`;
    dir = mkdtempSync(join(tmpdir(), "certyard-join-pin-"));
  });
  after(async () => {
    await ca.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const certJoin = (home: string, joinString: string, name: string) =>
    agent(argv(["cert"], { name, join: joinString, dns: "pin.lan", out: join(dir, name), home }));

  test("a refused enrolment leaves a bootstrapped home's CA URL as it was", async () => {
    const home = join(dir, "pinned");
    const boot = await agent(["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    assert.equal(boot.code, 0, boot.stderr);
    const caJson = readFileSync(join(home, "ca.json"), "utf8");
    const rootPem = readFileSync(join(home, "root.pem"), "utf8");

    const refused = await certJoin(
      home,
      encodeJoin({ url: otherUrl, fingerprint, token: "cyt_not-a-token-of-this-ca" }),
      "refused",
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^certyard-agent: the CA refused to sign: .*\(401\)\n$/);
    assert.equal(readFileSync(join(home, "ca.json"), "utf8"), caJson, "the pinned URL is unchanged");
    assert.equal(readFileSync(join(home, "root.pem"), "utf8"), rootPem);
    assert.equal(existsSync(join(dir, "refused")), false, "no files written");

    // The same join with a good token: now the home follows the URL the CA was reached at.
    const token = await ca.createToken({ name: "pin-ok", dns: ["pin.lan"] });
    const ok = await certJoin(home, encodeJoin({ url: otherUrl, fingerprint, token }), "ok");
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(readFileSync(join(home, "ca.json"), "utf8")).url, otherUrl);
  });

  test("a refused enrolment on a new host leaves it not bootstrapped", async () => {
    const home = join(dir, "fresh");
    const refused = await certJoin(
      home,
      encodeJoin({ url: ca.url, fingerprint, token: "cyt_not-a-token-of-this-ca" }),
      "fresh",
    );
    assert.equal(refused.code, 1);
    assert.equal(existsSync(join(home, "ca.json")), false);
    assert.equal(existsSync(join(home, "root.pem")), false);
    const status = await agent(["renew", "--home", home]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /no managed certificates/);
  });
});

/** Every URL and HOST:PORT flag of the agent: a port out of range is named, in one line. */
describe("ports out of range are refused in one line naming the flag", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "certyard-agent-ports-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("each flag", async () => {
    const home = join(dir, "home");
    const fp = "a".repeat(64);
    const cert = { name: "p", dns: "p.lan", out: join(dir, "out"), home };
    const cases: [string[], string][] = [
      [
        ["bootstrap", "--ca", "https://h:99999", "--fingerprint", fp, "--home", home],
        "--ca: port 99999 is out of range (1-65535)",
      ],
      [
        ["bootstrap", "--ca", "https://h:0", "--fingerprint", fp, "--home", home],
        "--ca: port 0 is out of range (1-65535)",
      ],
      [
        ["bootstrap", "--ca", "https://[fd00::1]:65536/", "--fingerprint", fp, "--home", home],
        "--ca: port 65536 is out of range (1-65535)",
      ],
      [
        ["bootstrap", "--ca", "h", "--fingerprint", fp, "--home", home],
        '--ca "h" is not a URL; give one like https://ca.lan:8443',
      ],
      [
        [
          "bootstrap",
          "--join",
          encodeJoin({ url: "https://h:99999", fingerprint: fp, token: "t" }),
          "--home",
          home,
        ],
        "the join string's CA URL: port 99999 is out of range (1-65535)",
      ],
      [
        argv(["cert"], { ...cert, acme: "https://h:70000/acme/directory" }),
        "--acme: port 70000 is out of range (1-65535)",
      ],
      [
        argv(["cert"], { ...cert, acme: "https://h/d", "http-01-port": "99999" }),
        "--http-01-port: port 99999 is out of range (1-65535)",
      ],
      [
        argv(["cert"], { ...cert, token: "t", verify: "h:99999" }),
        "--verify: port 99999 is out of range (1-65535)",
      ],
      [
        ["trust", "--registry", "10.0.0.5:99999", "--home", home],
        'invalid registry "10.0.0.5:99999": port 99999 is out of range (1-65535)',
      ],
      [["doctor", "10.0.0.5:0"], 'invalid registry "10.0.0.5:0": port 0 is out of range (1-65535)'],
    ];
    for (const [args, message] of cases) {
      const r = await agent(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stderr, `certyard-agent: ${message}\n`, args.join(" "));
    }
    assert.equal(existsSync(home), false, "nothing was written");
  });
});
