import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tlsFetch } from "../../services/agent/issuers/tls-fetch.js";
import { type ChallTestSrv, type Pebble, startChallTestSrv, startPebble } from "./acme-lego-support.js";
import { startCaProcessWith } from "./acme-support.js";
import { AGENT, CA_CLI, type CaProcess, freePort, node, sh } from "./support.js";

/**
 * Issue 18: "one on another ACME CA reports nothing and loses nothing". One agent home joined to
 * certyard manages two certificates: one from certyard's token API, which it reports, and one
 * from pebble (Let's Encrypt's test server), which it never sends to certyard, while its `cert`,
 * `renew` and `report` all succeed and its files stay pebble's.
 */
describe("agent on another ACME CA (pebble) beside certyard: nothing reported, nothing fails", {
  concurrency: false,
}, () => {
  const work = mkdtempSync(join(tmpdir(), "certyard-acme-foreign-"));
  const data = join(work, "ca");
  const home = join(work, "home");
  const foreignOut = join(work, "foreign");
  let ca: CaProcess;
  let cts: ChallTestSrv;
  let pebble: Pebble;
  let pebbleRootFile: string;
  let httpPort: number;

  const agent = (args: string[]) => node(AGENT, [...args, "--home", home, "--log-level", "warn"]);
  const hostNames = async (): Promise<string[]> => {
    const r = await node(CA_CLI, ["hosts", "list", "--json", "--data", data]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { name: string }[]).map((h) => h.name).sort();
  };
  /** The foreign leaf: it verifies to pebble's root, and its serial. */
  const foreignLeaf = async (): Promise<string> => {
    const pems =
      readFileSync(join(foreignOut, "fullchain.pem"), "utf8").match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
      ) ?? [];
    const leafFile = join(work, "leaf.pem");
    const chainFile = join(work, "chain.pem");
    writeFileSync(leafFile, `${pems[0]}\n`);
    writeFileSync(chainFile, `${pems.slice(1).join("\n")}\n`);
    const v = await sh("openssl", ["verify", "-CAfile", pebbleRootFile, "-untrusted", chainFile, leafFile]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    return new X509Certificate(pems[0] ?? "").serialNumber;
  };

  before(async () => {
    ca = await startCaProcessWith(data, []);
    cts = await startChallTestSrv();
    httpPort = await freePort();
    pebble = await startPebble(work, cts.dns, httpPort, await freePort());
    const pinned = tlsFetch({ ca: readFileSync(pebble.tlsCa, "utf8") });
    try {
      pebbleRootFile = join(work, "pebble-root.pem");
      writeFileSync(pebbleRootFile, await (await pinned.fetch(`${pebble.management}/roots/0`)).text());
    } finally {
      pinned.close();
    }
  });

  after(async () => {
    await pebble?.stop();
    await cts?.stop();
    await ca?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("certyard's certificate is reported; pebble's is not, and cert, renew and report succeed", async () => {
    const join_ = await node(CA_CLI, [
      ...["token", "create", "--name", "host", "--ip", "127.0.0.1", "--join"],
      ...["--url", ca.url, "--data", data],
    ]);
    assert.equal(join_.code, 0, join_.stderr);
    const ours = await agent([
      ...["cert", "--name", "ours", "--join", join_.stdout.trim(), "--ip", "127.0.0.1"],
      ...["--out", join(work, "ours")],
    ]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(await hostNames(), ["ours"], "certyard's own certificate is reported");

    const foreign = await agent([
      ...["cert", "--name", "foreign", "--acme", pebble.directory, "--acme-ca-cert", pebble.tlsCa],
      ...["--ip", "127.0.0.1", "--http-01-port", String(httpPort), "--out", foreignOut],
    ]);
    assert.equal(foreign.code, 0, foreign.stderr);
    assert.doesNotMatch(foreign.stderr, /could not report/);
    const first = await foreignLeaf();
    assert.deepEqual(await hostNames(), ["ours"], "pebble's certificate is not reported");

    const report = await agent(["report"]);
    assert.equal(report.code, 0, report.stderr + report.stdout);
    assert.match(report.stdout, /^foreign: not issued by certyard: nothing to report$/m);
    assert.match(report.stdout, new RegExp(`^ours: reported to ${ca.url}$`, "m"));

    const renewed = await agent(["renew", "--name", "foreign", "--force"]);
    assert.equal(renewed.code, 0, renewed.stderr + renewed.stdout);
    assert.match(renewed.stdout, /foreign: renewed/);
    assert.doesNotMatch(renewed.stderr, /could not report/);
    assert.notEqual(await foreignLeaf(), first, "renewed by pebble, files still pebble's");
    assert.deepEqual(await hostNames(), ["ours"]);
    const record = JSON.parse(readFileSync(join(home, "certs", "foreign.json"), "utf8"));
    assert.equal(record.issuer.kind, "acme");
    assert.equal(record.issuer.directory, pebble.directory);
  });
});
