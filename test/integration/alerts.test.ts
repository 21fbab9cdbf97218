import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AlertMessage } from "../../services/ca/alerts/checker.js";
import { parseWebhook } from "../../services/ca/alerts/webhook.js";
import type { IssuedCertificate } from "../../shared/api.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { makeCsr } from "../helpers/openssl.js";
import { initData } from "../helpers/test-db.js";

const DAY = 86_400_000;

/** A real webhook receiver: keeps every JSON body; answers 503 to the first `failFirst` posts. */
function receiver(failFirst: number) {
  const got: { body: AlertMessage; authorization: string | undefined }[] = [];
  const waiters: (() => void)[] = [];
  let posts = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = "";
    req.on("data", (d: Buffer) => {
      text += d.toString();
    });
    req.on("end", () => {
      posts++;
      if (posts <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      got.push({ body: JSON.parse(text) as AlertMessage, authorization: req.headers.authorization });
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  return {
    got,
    get posts() {
      return posts;
    },
    server,
    /** Resolves once a message matches (already received or still to come). */
    async waitFor(match: (m: AlertMessage) => boolean, what: string): Promise<AlertMessage> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = got.find((g) => match(g.body));
        if (found) return found.body;
        if (Date.now() > deadline)
          throw new Error(`no ${what} within 30 s; got ${JSON.stringify(got.map((g) => g.body.key))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 1000).unref();
        });
      }
    },
  };
}

describe("alerts: serve --alert-webhook posts each condition once, and its resolution (a real HTTP receiver)", () => {
  let ca: TestCa;
  let offset = 0;
  let dataDir: string;
  const hook = receiver(1);
  let hookUrl: string;
  const clock = () => Date.now() + offset;
  const start = (dir?: string) =>
    startCa({
      clock,
      dataDir: dir,
      alertWebhooks: [parseWebhook(hookUrl)],
      alertCheckMs: 50,
      alertRetry: { attempts: 5, firstDelayMs: 20, maxDelayMs: 200, timeoutMs: 5000 },
    });
  const keys = () => hook.got.map((g) => `${g.body.status} ${g.body.key}`);

  before(async () => {
    await new Promise<void>((r) => hook.server.listen(0, "127.0.0.1", r));
    const address = hook.server.address();
    // credentials in the URL go as Basic authorization, never into the logs
    hookUrl = `http://alert:s3cret@127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hook`;
    dataDir = mkdtempSync(join(tmpdir(), "certyard-alerts-"));
    await initData({ data: dataDir, name: "Alerts Root CA", keyType: "ec-p256" });
    ca = await start(dataDir);
  });
  after(async () => {
    await ca.close();
    hook.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let issued: IssuedCertificate;
  let keyPem: string;
  const report = (body: Record<string, unknown>, cert = issued.fullchain, key = keyPem) =>
    ca.request("/v1/hosts/report", { body: { name: "web", host: "h1", ...body }, cert, key });
  const sha = (pem: string) => fingerprint(certificatesFromPem(pem)[0] ?? Buffer.alloc(0));

  test("a drifting host fires once (delivered through a 503 and a retry), and resolves when it serves the newest", async () => {
    const token = await ca.createToken({ name: "web", dns: ["web.lan"], maxValidity: "10d" });
    const csr = makeCsr({ san: ["DNS:web.lan"] });
    const res = await ca.request("/v1/sign", { body: { csr: csr.csrPem, validity: "240h" }, token });
    assert.equal(res.status, 201);
    issued = res.json<IssuedCertificate>();
    keyPem = csr.keyPem;
    assert.equal((await report({ servedSha256: sha(issued.certificate) })).status, 204);

    // renewed elsewhere: the host still serves the old one
    const renewed = await ca.request("/v1/renew", { method: "POST", cert: issued.fullchain, key: keyPem });
    assert.equal(renewed.status, 201);
    const next = renewed.json<IssuedCertificate>();
    const fired = await hook.waitFor((m) => m.key === "host-drift:web@h1", "drift alert");
    assert.equal(fired.status, "firing");
    assert.equal(fired.kind, "host-drift");
    assert.equal(fired.details.newestSha256, sha(next.certificate));
    assert.match(fired.ca, /^https:\/\/127\.0\.0\.1:\d+$/, "the CA's public URL (--url)");
    assert.ok(hook.posts >= 2, "the first post was answered 503 and retried");
    assert.equal(hook.got[0]?.authorization, `Basic ${Buffer.from("alert:s3cret").toString("base64")}`);

    assert.equal((await report({ servedSha256: sha(next.certificate) }, next.fullchain)).status, 204);
    await hook.waitFor((m) => m.key === "host-drift:web@h1" && m.status === "resolved", "drift resolution");
    assert.deepEqual(
      keys().filter((k) => k.endsWith("host-drift:web@h1")),
      ["firing host-drift:web@h1", "resolved host-drift:web@h1"],
      "fired once and resolved once, over many checks",
    );
    issued = next;
  });

  test("a silent host and one in the last fifth of its lifetime fire; a restart sends neither again", async () => {
    offset = 3 * DAY + 60_000;
    const silent = await hook.waitFor((m) => m.key === "host-silent:web@h1", "silent alert");
    assert.equal(silent.status, "firing");
    // 10 days of life: the last fifth starts 8 days in
    offset = 8 * DAY + 60_000;
    const expiring = await hook.waitFor((m) => m.key === "host-expiring:web@h1", "expiring alert");
    assert.match(expiring.summary, /has not been renewed/);

    await ca.close();
    ca = await start(dataDir);
    // a report ends the silence: its resolution comes after the restart's first checks
    assert.equal((await report({ servedSha256: sha(issued.certificate) })).status, 204);
    await hook.waitFor((m) => m.key === "host-silent:web@h1" && m.status === "resolved", "silence resolved");
    const firing = keys().filter((k) => k.startsWith("firing "));
    assert.equal(firing.filter((k) => k === "firing host-silent:web@h1").length, 1);
    assert.equal(firing.filter((k) => k === "firing host-expiring:web@h1").length, 1);
  });

  test("bad --alert-webhook URLs are one line and never echo a password", () => {
    const r = caCli(["serve", "--data", dataDir, "--alert-webhook", "ftp://u:hunter2@hooks.lan/x"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^certyard-ca: --alert-webhook: ftp is not http or https/);
    assert.doesNotMatch(r.stderr, /hunter2/);
    const bad = caCli(["serve", "--data", dataDir, "--alert-webhook", "https://u:hunter2@[::1"]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.doesNotMatch(bad.stderr, /hunter2/);
  });
});
