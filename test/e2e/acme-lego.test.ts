import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type ChallTestSrv,
  type Pebble,
  startChallTestSrv,
  startPebble,
  writeExecProvider,
} from "./acme-lego-support.js";
import { createEab, startCaProcessWith } from "./acme-support.js";
import { type CaProcess, freePort, sh } from "./support.js";

/**
 * lego 4.9 against `certyard-ca serve` with tls-alpn-01 and dns-01 (exec provider writing TXT
 * records into pebble-challtestsrv, which is also the CA's --acme-dns-resolver), an IP
 * identifier, and the timings of lego and certbot http-01 issuances against us and against pebble.
 */
describe("ACME interop: lego tls-alpn-01, dns-01, IP; timings against pebble", { concurrency: false }, () => {
  let dir: string;
  let cts: ChallTestSrv;
  let ca: CaProcess;
  let pebble: Pebble;
  let httpPort: number;
  let tlsPort: number;
  let root: string;
  let chain: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-e2e-acme-lego-"));
    cts = await startChallTestSrv();
    httpPort = await freePort();
    tlsPort = await freePort();
    const data = join(dir, "data");
    ca = await startCaProcessWith(data, [
      ...["--acme-http-port", String(httpPort), "--acme-tls-port", String(tlsPort)],
      ...["--acme-dns-resolver", cts.dns],
      // lego answers on loopback, which validation refuses unless allowed
      ...["--acme-validation-allow", "127.0.0.0/8", "--acme-validation-allow", "::1"],
    ]);
    root = join(data, "root.crt");
    chain = join(data, "intermediate.crt");
    // pebble validates on the same ports: the issuances below run one at a time.
    pebble = await startPebble(dir, cts.dns, httpPort, tlsPort);
  });
  after(async () => {
    await ca?.stop();
    await pebble?.stop();
    await cts?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** lego's EAB flags for a new EAB allowed *.test and 127.0.0.1 */
  async function eab(name: string): Promise<string[]> {
    const [kid, hmac] = await createEab(ca.data, name, "--dns", "*.test", "--ip", "127.0.0.1");
    return ["--eab", "--kid", kid, "--hmac", hmac];
  }

  async function verifies(certFile: string): Promise<string> {
    const v = await sh("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", chain, certFile]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const text = await sh("openssl", ["x509", "-in", certFile, "-noout", "-ext", "subjectAltName"]);
    return text.stdout;
  }

  function lego(server: string, ca: string, args: string[], env: Record<string, string> = {}) {
    return sh("lego", [...["--server", server, "--email", "e@x.test", "--accept-tos"], ...args, "run"], {
      env: { LEGO_CA_CERTIFICATES: ca, ...env },
    });
  }
  const ours = () => `${ca.url}/acme/directory`;

  test("lego tls-alpn-01: the certificate verifies to our root", async () => {
    const path = join(dir, "lego-tls");
    const r = await lego(ours(), root, [
      ...(await eab("lego-tls")),
      ...["--domains", "alpn.test", "--tls", "--tls.port", `:${tlsPort}`, "--path", path],
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "alpn.test.crt"));
    assert.match(san, /DNS:alpn\.test/);
  });

  test("lego dns-01 through the exec provider and pebble-challtestsrv: verifies to our root", async () => {
    const path = join(dir, "lego-dns");
    const script = join(dir, "exec-provider.sh");
    const log = join(dir, "exec-provider.log");
    writeExecProvider(script, cts.mgmt, log);
    const r = await lego(
      ours(),
      root,
      [
        ...(await eab("lego-dns")),
        ...["--domains", "txt.test", "--dns", "exec", "--dns.resolvers", cts.dns, "--dns.disable-cp"],
        ...["--path", path],
      ],
      { EXEC_PATH: script, EXEC_PROPAGATION_TIMEOUT: "10", EXEC_POLLING_INTERVAL: "1" },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "txt.test.crt"));
    assert.match(san, /DNS:txt\.test/);
    const calls = readFileSync(log, "utf8");
    assert.match(calls, /^present _acme-challenge\.txt\.test\. \S+$/m);
    assert.match(calls, /^cleanup _acme-challenge\.txt\.test\. \S+$/m);
  });

  test("lego --domains 127.0.0.1 (http-01): the certificate has an iPAddress SAN", async () => {
    const path = join(dir, "lego-ip");
    const r = await lego(ours(), root, [
      ...(await eab("lego-ip")),
      ...["--domains", "127.0.0.1", "--http", "--http.port", `:${httpPort}`, "--path", path],
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const san = await verifies(join(path, "certificates", "127.0.0.1.crt"));
    assert.match(san, /IP Address:127\.0\.0\.1/);
    assert.doesNotMatch(san, /DNS:/);
  });

  /** Timed rounds per client and server: an odd number, so that the median is one run. */
  const ROUNDS = 3;
  /** Seconds per issuance, by "client server"; each client runs ours and pebble's in turn. */
  const seconds: Record<string, number[]> = {};
  async function timed(key: string, run: () => Promise<{ code: number; stdout: string; stderr: string }>) {
    const started = process.hrtime.bigint();
    const r = await run();
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    seconds[key] = [...(seconds[key] ?? []), s];
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }

  /**
   * certbot's own log: from its first ACME request to its last response (the part a server can
   * affect; certbot's fixed 1 s sleeps included), and before it, from choosing its plugins to
   * that first request (certbot making its RSA account key, which no server affects). Inside the
   * span, the wait for its standalone server to stop: that server's loop wakes every 0.5 s from
   * its last request, so the wait is about 0.49 s when the validation request came before the
   * challenge's answer (certyard validates before answering) and can be near 0 when it came
   * later than certbot's first poll (pebble validates after answering, by a few milliseconds).
   */
  function certbotPhases(name: string): { span: number; keyGen: number; stopWait: number } {
    const log = readFileSync(join(dir, name, "l", "letsencrypt.log"), "utf8");
    const at = (line: string | undefined) => {
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})/.exec(line ?? "");
      return m ? Date.parse(`${m[1]}T${m[2]}.${m[3]}Z`) : Number.NaN;
    };
    const lines = log.split("\n");
    const selected = lines.find((l) => l.includes("Plugins selected"));
    const first = lines.find((l) => l.includes("acme.client:Sending"));
    const last = lines.filter((l) => l.includes("acme.client:Received response")).pop();
    const stopping = lines.findIndex((l) => l.includes("plugins.standalone:Stopping server"));
    const stopWait = (at(lines[stopping + 1]) - at(lines[stopping])) / 1000;
    return { span: (at(last) - at(first)) / 1000, keyGen: (at(first) - at(selected)) / 1000, stopWait };
  }

  const legoHttp = (server: string, caFile: string, extra: string[], name: string) =>
    lego(server, caFile, [
      ...extra,
      ...["--domains", `${name}.test`, "--http", "--http.port", `:${httpPort}`, "--path", join(dir, name)],
    ]);

  const certbotHttp = (server: string, caFile: string, extra: string[], name: string) =>
    sh(
      "certbot",
      [
        ...["certonly", "--standalone", "--http-01-port", String(httpPort), "--server", server, ...extra],
        ...["--agree-tos", "-m", "e@x.test", "-d", `${name}.test`, "--non-interactive"],
        ...["--config-dir", join(dir, name, "c"), "--work-dir", join(dir, name, "w")],
        ...["--logs-dir", join(dir, name, "l")],
      ],
      { env: { REQUESTS_CA_BUNDLE: caFile } },
    );

  test("timing: lego and certbot http-01 issuances, against certyard and against pebble", async () => {
    // The first certbot process loads Python and its plugins from a cold page cache; a discarded
    // run takes that cost, so that neither server is charged for it.
    const warm = await certbotHttp(pebble.directory, pebble.tlsCa, [], "cb-warmup");
    assert.equal(warm.code, 0, warm.stdout + warm.stderr);
    // The EABs are made first: the CLI that makes one is a node process of its own, and the
    // certbot run started right after it was seen to take longer before its first request.
    const eabs: { lego: string[]; certbot: string[] }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [, , kid, , hmac] = await eab(`time-certbot-${round}`);
      eabs.push({
        lego: await eab(`time-lego-${round}`),
        certbot: [`--eab-kid=${kid}`, `--eab-hmac-key=${hmac}`],
      });
    }
    // Rounds alternate which server goes first, and the medians are compared: with best-of-two,
    // one lucky run decided, and certbot's own start-up (Python, plugins, a fresh RSA account
    // key) varies by a few tenths of a second from run to run, whatever the server.
    for (let round = 0; round < ROUNDS; round++) {
      const args = eabs[round] ?? { lego: [], certbot: [] };
      const legoOurs = () =>
        timed("lego certyard", () => legoHttp(ours(), root, args.lego, `lego-ours-${round}`));
      const legoPebble = () =>
        timed("lego pebble", () => legoHttp(pebble.directory, pebble.tlsCa, [], `lego-pebble-${round}`));
      const certbotOurs = () =>
        timed("certbot certyard", () => certbotHttp(ours(), root, args.certbot, `cb-ours-${round}`));
      const certbotPebble = () =>
        timed("certbot pebble", () => certbotHttp(pebble.directory, pebble.tlsCa, [], `cb-pebble-${round}`));
      for (const step of round % 2 === 0
        ? [legoOurs, legoPebble, certbotOurs, certbotPebble]
        : [legoPebble, legoOurs, certbotPebble, certbotOurs]) {
        await step();
      }
    }
    const runs = (v: number[]) => v.map((x) => x.toFixed(2)).join(", ");
    const med = (k: string) => median(seconds[k] ?? []);
    for (const [k, v] of Object.entries(seconds)) {
      console.log(`e2e report: ${k} http-01 issuance median ${med(k).toFixed(2)} s (runs: ${runs(v)})`);
    }
    // certbot's ACME traffic (what the server can affect; it includes certbot's fixed sleeps) and
    // the rest of its wall time (start-up, account key, writing files), per run.
    const span: Record<string, number> = {};
    const spanLessStop: Record<string, number> = {};
    for (const [server, key] of [
      ["ours", "certbot certyard"],
      ["pebble", "certbot pebble"],
    ] as const) {
      const phases = Array.from({ length: ROUNDS }, (_, round) => certbotPhases(`cb-${server}-${round}`));
      const spans = phases.map((p) => p.span);
      const keyGens = phases.map((p) => p.keyGen);
      const stopWaits = phases.map((p) => p.stopWait);
      const outside = spans.map((x, round) => (seconds[key]?.[round] ?? Number.NaN) - x);
      span[key] = median(spans);
      console.log(
        `e2e report: ${key} first request to last response: median ${median(spans).toFixed(2)} s (runs: ${runs(spans)}); outside it: median ${median(outside).toFixed(2)} s (runs: ${runs(outside)}), of which making the account key: ${runs(keyGens)}`,
      );
      console.log(`e2e report: ${key} wait for the standalone server to stop: ${runs(stopWaits)} s`);
      spanLessStop[key] = median(spans.map((x, round) => x - (stopWaits[round] ?? Number.NaN)));
    }
    for (const client of ["lego", "certbot"]) {
      const ratio = med(`${client} certyard`) / med(`${client} pebble`);
      const target = client === "lego" ? 0.1 : 1.0;
      console.log(`e2e report: ${client} certyard/pebble ratio ${ratio.toFixed(3)} (target <= ${target})`);
    }
    const spanRatio = (span["certbot certyard"] ?? Number.NaN) / (span["certbot pebble"] ?? Number.NaN);
    console.log(`e2e report: certbot certyard/pebble ACME-traffic ratio ${spanRatio.toFixed(3)}`);
    const lessStop =
      (spanLessStop["certbot certyard"] ?? Number.NaN) / (spanLessStop["certbot pebble"] ?? Number.NaN);
    console.log(
      `e2e report: certbot certyard/pebble ACME-traffic ratio without the standalone server's stop ${lessStop.toFixed(3)}`,
    );
  });
});

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return (s.length % 2 ? s[mid] : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2) ?? Number.NaN;
}
