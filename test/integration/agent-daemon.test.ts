import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { startCa, type TestCa } from "../helpers/ca.js";

const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
const IMPORT_LOG = fileURLToPath(new URL("../helpers/import-log.js", import.meta.url));
const execFileP = promisify(execFile);

async function agent(args: string[]) {
  const r = await execFileP(process.execPath, [AGENT, ...args]);
  return r.stdout;
}

interface LogLine {
  pid?: number;
  msg?: string;
  name?: string;
  [key: string]: unknown;
}

/** `certyard-agent run` with its log lines parsed as they arrive, to wait on. */
class Daemon {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly exit: Promise<number | null>;
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(home: string, env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [AGENT, "run", "--home", home], {
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    let partial = "";
    this.child.stderr?.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() ?? "";
      for (const text of parts) this.add(text);
    });
    this.exit = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  private add(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      if (!w.match(line)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(line);
    }
  }

  /** The first line from index `from` on that matches; fails if the daemon exits first. */
  waitFor(what: string, match: (l: LogLine) => boolean, from = 0): Promise<LogLine> {
    const seen = this.lines.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ match, resolve });
      void this.exit.then((code) =>
        reject(new Error(`the daemon exited (${code}) before logging ${what}:\n${this.transcript()}`)),
      );
    });
  }

  index(line: LogLine): number {
    return this.lines.indexOf(line);
  }

  transcript(): string {
    return this.lines.map((l) => JSON.stringify(l)).join("\n");
  }
}

/**
 * How far the test CA's clock runs behind: the renewal time of a 5m certificate is 200 s (two
 * thirds) less up to 15 s of jitter after its notBefore, 60 s (and the CA's rounding down to a
 * whole second) before the CA's now; so 200 - 15 - 61 - 121 puts it 3 to 19 s after issue.
 */
const CLOCK_BEHIND_S = 121;
const msg = (text: string) => (l: LogLine) => l.msg === text;
const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber.toLowerCase();

describe("certyard-agent run: the daemon against a real CA", () => {
  let ca: TestCa;
  let fingerprint: string;
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  const releases: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-daemon-"));
    dirs.push(d);
    return d;
  };
  const bootstrapped = async () => {
    const dir = tmp();
    const home = join(dir, "home");
    await agent(["bootstrap", "--ca", ca.url, "--fingerprint", fingerprint, "--home", home]);
    return { dir, home };
  };

  before(async () => {
    // The CA's clock runs CLOCK_BEHIND_S behind (see the first test): a 5-minute certificate, the
    // shortest it signs, is then due for renewal seconds after it is issued.
    ca = await startCa({ clock: () => Date.now() - CLOCK_BEHIND_S * 1000 });
    fingerprint = (await ca.request("/v1/root")).json<{ sha256: string }>().sha256;
  });
  after(async () => {
    for (const r of releases) writeFileSync(r, "");
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL");
    await ca.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("renews when due in a child process, lets a running renewal finish on SIGTERM, exits 0", async () => {
    const { dir, home } = await bootstrapped();
    const out = join(dir, "certs");
    const certFile = join(out, "domain.crt");
    // The reload waits while this file is missing: it holds the second renewal open while the
    // daemon is told to stop, so the test knows a renewal is under way when SIGTERM arrives.
    const release = join(dir, "release");
    releases.push(release);
    writeFileSync(release, "");
    const token = await ca.createToken({ name: "daemon-host", dns: ["daemon.lan"] });
    // The CA backdates notBefore by 60 s from its clock, CLOCK_BEHIND_S behind this one, and the
    // lifetime counts from there: with 5m the renewal time (two thirds, 200 s, less up to a
    // twentieth, 15 s, as jitter) is 3 to 19 s after issue.
    await agent([
      "cert",
      "--name",
      "daemon",
      "--token",
      token,
      "--dns",
      "daemon.lan",
      "--out",
      out,
      "--validity",
      "5m",
      "--reload",
      `exec:while [ ! -e '${release}' ]; do sleep 0.05; done`,
      "--home",
      home,
    ]);
    const first = serialOf(certFile);

    const daemon = new Daemon(home);
    daemons.push(daemon);
    await daemon.waitFor('"root checked"', msg("root checked"));
    const due = await daemon.waitFor('"renewal due"', msg("renewal due"));
    assert.equal(due.cert, "daemon");
    assert.equal(due.pid, daemon.child.pid);
    const renewed = await daemon.waitFor('"renewed" from the renewal', msg("renewed"), daemon.index(due));
    // Hold the next renewal's reload from now on: the renewed certificate has the same lifetime
    // from the same clock, so it is due again within seconds, maybe before the checks below end
    // on a busy machine (a status run took 5 s once, and the next reload went straight through).
    rmSync(release);
    assert.notEqual(renewed.pid, daemon.child.pid, "the renewal ran in a child process");
    const second = serialOf(certFile);
    assert.notEqual(second, first);
    assert.equal(renewed.serial, second);
    const status = JSON.parse(await agent(["status", "--json", "--home", home])) as {
      serial: string;
      lastResult: { ok: boolean };
    }[];
    assert.equal(status[0]?.serial, second);
    assert.equal(status[0]?.lastResult.ok, true);

    const dueAgain = await daemon.waitFor(
      'a second "renewal due"',
      msg("renewal due"),
      daemon.index(renewed),
    );
    daemon.child.kill("SIGTERM");
    const stopping = await daemon.waitFor(
      '"stopping once the running task ends"',
      msg("stopping once the running task ends"),
      daemon.index(dueAgain),
    );
    writeFileSync(release, "");
    assert.equal(await daemon.exit, 0, daemon.transcript());
    const finished = daemon.lines.findIndex((l, i) => i > daemon.index(stopping) && l.msg === "renewed");
    const stopped = daemon.lines.findIndex(msg("agent stopped"));
    assert.ok(finished > 0 && stopped > finished, `renewed, then stopped:\n${daemon.transcript()}`);
    assert.notEqual(serialOf(certFile), second);
    assert.equal(daemon.lines.filter((l) => (l.level as number) >= 40).length, 0, daemon.transcript());
  });

  test("idle, the daemon imports no schema, HTTP client or X.509 library; SIGTERM exits 0", async () => {
    const { dir, home } = await bootstrapped();
    const imports = join(dir, "imports.log");
    const daemon = new Daemon(home, {
      ...process.env,
      IMPORT_LOG: imports,
      // the root check's child says "serves the pinned root" at debug (its stdout line says it
      // to a person); the daemon passes its level on
      CERTYARD_AGENT_LOG_LEVEL: "debug",
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(IMPORT_LOG).href}`,
    });
    daemons.push(daemon);
    const checked = await daemon.waitFor(
      '"the CA serves the pinned root"',
      msg("the CA serves the pinned root"),
    );
    assert.equal(checked.fingerprint, fingerprint);
    await daemon.waitFor('"root checked"', msg("root checked"));
    daemon.child.kill("SIGTERM");
    assert.equal(await daemon.exit, 0, daemon.transcript());
    assert.ok(daemon.lines.some(msg("agent stopped")));

    const byPid = new Map<string, string[]>();
    for (const line of readFileSync(imports, "utf8").trim().split("\n")) {
      const [pid = "", url = ""] = line.split(" ");
      byPid.set(pid, [...(byPid.get(pid) ?? []), url]);
    }
    const heavy = /\/node_modules\/(zod|ofetch|undici|@peculiar\/x509)\//;
    const own = byPid.get(String(daemon.child.pid)) ?? [];
    assert.ok(
      own.some((u) => u.endsWith("/commands/run.js")),
      "the import log covers the daemon",
    );
    assert.deepEqual(
      own.filter((u) => heavy.test(u)),
      [],
    );
    // without --metrics-listen, no metrics code and no HTTP server
    assert.deepEqual(
      own.filter((u) => u.endsWith("/commands/run-metrics.js")),
      [],
    );
    const child = byPid.get(String(checked.pid)) ?? [];
    assert.ok(
      child.some((u) => heavy.test(u)),
      "the root check's child loads them, as a control",
    );
  });
});
