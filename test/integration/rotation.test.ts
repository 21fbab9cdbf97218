import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AgentHome } from "../../services/agent/state.js";
import { caPaths, loadCa } from "../../services/ca/keys/ca.js";
import { commitStaged, stageFiles } from "../../services/ca/keys/staged.js";
import { encodeJoin } from "../../shared/join.js";
import { certificatesFromPem, encodePem } from "../../shared/x509/pem.js";
import { argv } from "../helpers/argv.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { caCli } from "../helpers/ca-process.js";
import { makeCsr, opensslCrlText, opensslVerify } from "../helpers/openssl.js";
import { runAsync } from "../helpers/run-async.js";
import { initData } from "../helpers/test-db.js";

const _CA_CLI = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));
const ca = (args: string[]) => {
  const r = caCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
};

interface Issued {
  serial: string;
  certificate: string;
  chain: string;
  fullchain: string;
}

const pems = (text: string) => certificatesFromPem(text).map((d) => encodePem("CERTIFICATE", d));
const crlPem = (der: Buffer) => encodePem("X509 CRL", der);

/** Every file of the data directory with its content's hash: what "nothing changed" means. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith("certyard.db")) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
      else out[`${rel}${name}`] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir, "");
  return out;
}

describe("certyard-ca rotate: new intermediate and new root, nothing issued before breaks", () => {
  let server: TestCa;
  let dataDir: string;
  let token: string;
  const dirs: string[] = [];

  const restart = async () => {
    await server.close();
    server = await startCa({ dataDir });
  };
  const sign = async (name: string) => {
    const csr = makeCsr({ san: [`DNS:${name}`] });
    const res = await server.request("/v1/sign", { method: "POST", token, body: { csr: csr.csrPem } });
    assert.equal(res.status, 201, res.body.toString());
    return { ...res.json<Issued>(), keyPem: csr.keyPem };
  };
  const get = async (path: string) => {
    const res = await server.request(path);
    assert.equal(res.status, 200, `${path}: ${res.body.toString()}`);
    return res.body;
  };
  const crlNumber = (der: Buffer) => Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(opensslCrlText(der))?.[1]);

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-rotate-"));
    dirs.push(dir);
    dataDir = join(dir, "data");
    await initData({ data: dataDir, name: "Rotation Root CA", keyType: "ec-p256" });
    server = await startCa({ dataDir });
    token = await server.createToken({ name: "rot", dns: ["*.lan"], uses: 100 });
  });
  after(async () => {
    await server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("rotate intermediate, then rotate root: chains, CRLs, renewals and a restart", async () => {
    const root1 = server.rootPem;
    const kept = await sign("kept.lan");
    const doomed = await sign("doomed.lan");
    const crlBefore = crlNumber(await get("/crl"));
    const inter1 = pems(kept.chain)[0] as string;

    const r = ca(["rotate", "intermediate", "--data", dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^new intermediate [0-9a-f]+ \(the previous one, [0-9a-f]+, is kept/);
    assert.match(r.stdout, /a running serve issues from the new intermediate within seconds/);
    for (const f of readdirSync(join(dataDir, "previous")).filter((n) => n.endsWith(".key")))
      assert.equal(statSync(join(dataDir, "previous", f)).mode & 0o777, 0o600, f);
    assert.equal(statSync(join(dataDir, "intermediate.key")).mode & 0o777, 0o600);
    await restart();

    const chain2 = (await get("/chain.pem")).toString();
    assert.notEqual(pems(chain2)[0], inter1, "a new intermediate is served");
    const fresh = await sign("fresh.lan");
    assert.equal(fresh.chain, chain2);
    assert.ok(opensslVerify(fresh.certificate, fresh.chain, root1).ok, "new leaf, same root");
    assert.ok(opensslVerify(kept.certificate, kept.chain, root1).ok, "an old leaf still chains");
    const interNew = new X509Certificate(pems(chain2)[0] as string);
    assert.equal(interNew.subject, `${new X509Certificate(inter1).subject}\nOU=generation 2`);
    // the same name constraints (none here) and the same root
    assert.ok(interNew.checkIssued(new X509Certificate(root1)));

    // a revocation of an old leaf is published on the CRL its certificate names (/crl), signed by
    // the retired intermediate; the new one's leaves name /crl/KEYID, signed by the new one
    const revoke = await server.request("/v1/revoke", {
      method: "POST",
      token: server.adminToken,
      body: { serial: doomed.serial, reason: "keyCompromise" },
    });
    assert.equal(revoke.status, 200, revoke.body.toString());
    const oldCrl = await get("/crl");
    const freshDp = /URI:(https:\S+)/.exec(
      spawnSync("openssl", ["x509", "-noout", "-ext", "crlDistributionPoints"], {
        input: fresh.certificate,
        encoding: "utf8",
      }).stdout,
    )?.[1];
    assert.match(freshDp ?? "", /\/crl\/[0-9a-f]{40}$/);
    const newCrl = await get(new URL(freshDp as string).pathname);
    assert.ok(crlNumber(oldCrl) > crlBefore, "CRL numbers only increase");
    assert.equal(crlNumber(newCrl), crlNumber(oldCrl));
    const revoked = opensslVerify(doomed.certificate, doomed.chain, root1, [], crlPem(oldCrl));
    assert.equal(revoked.ok, false);
    assert.match(revoked.output, /certificate revoked/);
    assert.ok(opensslVerify(kept.certificate, kept.chain, root1, [], crlPem(oldCrl)).ok, revoked.output);
    assert.ok(opensslVerify(fresh.certificate, fresh.chain, root1, [], crlPem(newCrl)).ok);
    // the old CRL is not the new intermediate's: a relying party would not take it for new leaves
    assert.equal(opensslVerify(fresh.certificate, fresh.chain, root1, [], crlPem(oldCrl)).ok, false);

    // an old leaf renews, onto the new intermediate
    const renewed = await server.request("/v1/renew", {
      method: "POST",
      body: {},
      cert: kept.fullchain,
      key: kept.keyPem,
    });
    assert.equal(renewed.status, 201, renewed.body.toString());
    assert.equal(renewed.json<Issued>().chain, chain2);

    // rotate root: a new root cross-signed by the old one, both in /roots.pem
    const rr = ca(["rotate", "root", "--data", dataDir]);
    assert.equal(rr.status, 0, rr.stderr);
    const fp = /new root fingerprint: ([0-9a-f]{64})/.exec(rr.stdout)?.[1];
    assert.equal(ca(["fingerprint", "--data", dataDir]).stdout.trim(), fp);
    await restart();
    const root2 = server.rootPem;
    assert.notEqual(root2, root1);
    const roots = pems((await get("/roots.pem")).toString());
    assert.deepEqual(roots, [...pems(root2), ...pems(root1)]);
    const v1root = (await server.request("/v1/root")).json<{
      sha256: string;
      roots: string;
      cross: string;
    }>();
    assert.equal(v1root.sha256, fp);
    const cross = new X509Certificate(v1root.cross);
    assert.ok(
      cross.verify(new X509Certificate(root1).publicKey),
      "the cross-certificate is signed by the old root",
    );
    assert.ok(cross.publicKey.equals(new X509Certificate(root2).publicKey));

    const chain3 = (await get("/chain.pem")).toString();
    assert.equal(pems(chain3).length, 2, "the intermediate, then the cross-certificate");
    const latest = await sign("latest.lan");
    for (const [who, anchor] of [
      ["a client that trusts only the old root", root1],
      ["a client that trusts only the new root", root2],
      ["a client with /roots.pem", roots.join("")],
    ] as const) {
      const v = opensslVerify(latest.certificate, latest.fullchain, anchor);
      assert.ok(v.ok, `${who}: ${v.output}`);
    }
    assert.ok(
      opensslVerify(fresh.certificate, fresh.chain, roots.join("")).ok,
      "leaves of the retired intermediates",
    );
    assert.ok(opensslVerify(kept.certificate, kept.chain, roots.join("")).ok);
    // the CA's own TLS certificate is now issued under the new root (startCa pins root2)
    assert.equal((await server.request("/healthz")).status, 200);
    // and the retired intermediates' CRLs are still there
    assert.ok(crlNumber(await get("/crl")) >= crlNumber(newCrl));
    assert.equal((await server.request(new URL(freshDp as string).pathname)).status, 200);
    assert.equal((await server.request(`/crl/${"0".repeat(40)}`)).status, 404);
  });

  test("refused, with nothing changed: no root key, a wrong passphrase, a rotation under way", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-rotate-bad-"));
    dirs.push(dir);
    const data = join(dir, "data");
    const pass = join(dir, "pass");
    writeFileSync(pass, "correct horse\n");
    await initData({ data, name: "Bad Input Root CA", keyType: "ec-p256", passphraseFile: pass });
    const before = snapshot(data);
    const wrong = join(dir, "wrong");
    writeFileSync(wrong, "battery staple\n");
    for (const [args, said] of [
      [["rotate", "root", "--data", data], /passphrase/],
      [["rotate", "intermediate", "--data", data, "--passphrase-file", wrong], /passphrase|decrypt/i],
    ] as const) {
      const r = ca([...args]);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /^certyard-ca: [^\n]+\n$/);
      assert.match(r.stderr, said);
      assert.deepEqual(snapshot(data), before, args.join(" "));
    }
    // a root key kept offline
    const key = readFileSync(join(data, "root.key"));
    rmSync(join(data, "root.key"));
    const offline = ca(["rotate", "intermediate", "--data", data, "--passphrase-file", pass]);
    assert.equal(offline.status, 1);
    assert.match(offline.stderr, /root\.key is missing: a rotation signs with the root key/);
    writeFileSync(join(data, "root.key"), key, { mode: 0o600 });
    assert.deepEqual(snapshot(data), before);
    // another rotation (or a backup) holds the data directory
    writeFileSync(join(data, ".lock"), JSON.stringify({ pid: process.pid, what: "a backup" }));
    const busy = ca(["rotate", "root", "--data", data, "--passphrase-file", pass]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /a backup \(pid \d+\) is under way/);
    rmSync(join(data, ".lock"));
    assert.deepEqual(snapshot(data), before);
    const ok = ca(["rotate", "root", "--data", data, "--passphrase-file", pass]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(
      readFileSync(join(data, "root.key"), "utf8"),
      /ENCRYPTED PRIVATE KEY/,
      "new keys stay encrypted",
    );
  });

  test("a crash before the commit leaves the old CA; after it, the next start finishes the new one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-rotate-crash-"));
    dirs.push(dir);
    const data = join(dir, "data");
    await initData({ data, name: "Crash Root CA", keyType: "ec-p256" });
    const paths = caPaths(data);
    const before = snapshot(data);
    const oldInter = readFileSync(paths.intermediateCert, "utf8");
    // a second CA's files stand in for a rotation's new ones (any valid pair will do)
    const other = join(dir, "other");
    await initData({ data: other, name: "Crash Root CA", keyType: "ec-p256" });
    const files = [
      { path: "previous/intermediate-01.crt", content: oldInter, mode: 0o644 },
      {
        path: "previous/intermediate-01.key",
        content: readFileSync(paths.intermediateKey, "utf8"),
        mode: 0o600,
      },
      { path: "root.crt", content: readFileSync(join(other, "root.crt"), "utf8"), mode: 0o644 },
      {
        path: "intermediate.crt",
        content: readFileSync(join(other, "intermediate.crt"), "utf8"),
        mode: 0o644,
      },
      {
        path: "intermediate.key",
        content: readFileSync(join(other, "intermediate.key"), "utf8"),
        mode: 0o600,
      },
    ];

    // staged, not committed: the process dies here
    stageFiles(data, files);
    assert.ok(existsSync(join(data, ".rotate-staging")));
    const old = loadCa(paths);
    assert.equal(old.intermediatePem, oldInter, "the old CA, whole");
    assert.equal(existsSync(join(data, ".rotate-staging")), false, "the uncommitted change is discarded");
    assert.deepEqual(snapshot(data), before);

    // committed, then the process dies after moving one file of five
    stageFiles(data, files);
    commitStaged(data);
    const fs = await import("node:fs");
    fs.renameSync(join(data, ".rotate", "2"), join(data, "root.crt"));
    // serve's start (loadCa) finishes it: the new files, all of them, and the old intermediate kept
    const r = ca(["fingerprint", "--data", data]);
    assert.equal(r.status, 0, r.stderr);
    const now = loadCa(paths);
    assert.equal(now.intermediatePem, readFileSync(join(other, "intermediate.crt"), "utf8"));
    assert.equal(now.rootPem, readFileSync(join(other, "root.crt"), "utf8"));
    assert.equal(now.retired.length, 1);
    assert.equal(existsSync(join(data, ".rotate")), false);
    assert.equal(statSync(join(data, "previous", "intermediate-01.key")).mode & 0o777, 0o600);
  });
});

describe("a running serve takes up a rotation without a restart", () => {
  let server: TestCa;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-rotate-live-"));
    await initData({ data: join(dir, "data"), name: "Live Root CA", keyType: "ec-p256" });
    server = await startCa({ dataDir: join(dir, "data"), rotationCheckMs: 100 });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Polls until `check` holds, or fails after a generous deadline (a loaded machine is slow). */
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  test("rotate root while serve runs: new chain, both roots, and the old root's clients still connect", async () => {
    const token = await server.createToken({ name: "live", dns: ["live.lan"], uses: 5 });
    const before = (await server.request("/chain.pem")).body.toString();
    const r = ca(["rotate", "root", "--data", join(dir, "data")]);
    assert.equal(r.status, 0, r.stderr);
    // server.request trusts only the old root: the new TLS certificate reaches it through the cross-certificate
    await until("serve to serve the new chain", async () => {
      const now = await server.request("/chain.pem");
      return now.status === 200 && now.body.toString() !== before;
    });
    const roots = pems((await server.request("/roots.pem")).body.toString());
    assert.equal(roots.length, 2);
    assert.equal(roots[1], pems(server.rootPem)[0]);
    const csr = makeCsr({ san: ["DNS:live.lan"] });
    const res = await server.request("/v1/sign", { method: "POST", token, body: { csr: csr.csrPem } });
    assert.equal(res.status, 201, res.body.toString());
    const issued = res.json<Issued>();
    assert.equal(issued.chain, (await server.request("/chain.pem")).body.toString());
    assert.ok(opensslVerify(issued.certificate, issued.fullchain, roots[0] as string).ok, "the new root");
    assert.ok(opensslVerify(issued.certificate, issued.fullchain, server.rootPem).ok, "the old root");
  });
});

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const agent = (args: string[]) => runAsync(AGENT, args);

describe("certyard-agent check-root follows a root rotation where trust wrote", () => {
  let server: TestCa;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-rotate-agent-"));
    await initData({ data: join(dir, "data"), name: "Agent Rotation Root CA", keyType: "ec-p256" });
    server = await startCa({ dataDir: join(dir, "data") });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the new root beside the old one in every ca.crt; the second run changes nothing", async () => {
    const home = join(dir, "home");
    const oldFp = ca(["fingerprint", "--data", join(dir, "data")]).stdout.trim();
    const boot = await agent(["bootstrap", "--ca", server.url, "--fingerprint", oldFp, "--home", home]);
    assert.equal(boot.code, 0, boot.stderr);
    const places = {
      "--docker-certs-dir": join(dir, "docker"),
      "--containers-certs-dir": join(dir, "containers"),
      "--containerd-certs-dir": join(dir, "containerd"),
    };
    const flags = Object.entries(places).flat();
    const t = await agent(["trust", "--registry", "10.0.0.5:5000", ...flags, "--home", home]);
    assert.equal(t.code, 0, t.stderr);
    const caFiles = Object.values(places).map((d) => join(d, "10.0.0.5:5000", "ca.crt"));
    const root1 = server.rootPem;
    for (const f of caFiles) assert.deepEqual(pems(readFileSync(f, "utf8")), pems(root1), f);

    const same = await agent(["check-root", "--home", home]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, `ok: ${server.url} serves the pinned root ${oldFp}\n`);

    const rr = ca(["rotate", "root", "--data", join(dir, "data")]);
    assert.equal(rr.status, 0, rr.stderr);
    const newFp = /new root fingerprint: ([0-9a-f]{64})/.exec(rr.stdout)?.[1] as string;
    const port = server.port;
    await server.close();
    server = await startCa({ dataDir: join(dir, "data"), port });
    const root2 = server.rootPem;

    // the CA's TLS certificate is under the new root now: the agent, trusting only the old
    // one, reaches it through the cross-certificate in the served chain
    const followed = await agent(["check-root", "--home", home]);
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(
      followed.stdout,
      `ok: ${server.url} rotated its root: trusts the new root ${newFp} (cross-signed), where trust installed the root too\n`,
    );
    for (const f of caFiles)
      assert.deepEqual(pems(readFileSync(f, "utf8")), [...pems(root1), ...pems(root2)], f);
    assert.equal(JSON.parse(readFileSync(join(home, "ca.json"), "utf8")).fingerprint, newFp);
    const mtimes = caFiles.map((f) => statSync(f).mtimeMs);
    const again = await agent(["check-root", "--home", home]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `ok: ${server.url} serves the pinned root ${newFp}\n`);
    assert.deepEqual(
      caFiles.map((f) => statSync(f).mtimeMs),
      mtimes,
    );

    // join strings made before the rotation (the old root's fingerprint) still enrol this host
    const token = await server.createToken({ name: "after-rotation", dns: ["joined.lan"], uses: 2 });
    const joined = await agent(
      argv(["cert"], {
        name: "joined",
        join: encodeJoin({ url: server.url, fingerprint: oldFp, token }),
        dns: "joined.lan",
        out: join(dir, "joined"),
        home,
      }),
    );
    assert.equal(joined.code, 0, joined.stderr);
    assert.equal(JSON.parse(readFileSync(join(home, "ca.json"), "utf8")).fingerprint, newFp);
    // a host that has not looked since is told what to do with a join string of the new root
    const behind = join(dir, "behind");
    new AgentHome(behind).saveCa({ url: server.url, fingerprint: oldFp }, root1);
    const told = await agent(
      argv(["cert"], {
        name: "behind",
        join: encodeJoin({ url: server.url, fingerprint: newFp, token }),
        dns: "joined.lan",
        out: join(dir, "behind-out"),
        home: behind,
      }),
    );
    assert.equal(told.code, 1);
    assert.match(told.stderr, /if that CA rotated its root, run certyard-agent check-root first/);
  });
});
