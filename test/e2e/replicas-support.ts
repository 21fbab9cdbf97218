import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHaproxy, type TestHaproxy } from "../helpers/haproxy.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { stopChild } from "./acme-support.js";
import { CA_CLI, freePort, node, until } from "./support.js";

/**
 * Several `certyard-ca serve` replicas on one --data directory (the CA's keys) and one database,
 * behind a real HAProxy in TCP mode (test/helpers/haproxy.ts). The database is either the
 * SQLite file in the data directory (replicas on one machine: WAL and a busy timeout) or a
 * throwaway PostgreSQL (test/helpers/postgres.ts), passed to every replica as --db.
 */
export type Backend = "sqlite" | "postgres";

export interface Replica {
  name: string;
  /** its own address, not through the load balancer */
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL, and waits until the process is gone */
  kill9(): Promise<void>;
  /** starts it again on the same port with the same flags (after kill9 or stop) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReplicaSet {
  backend: Backend;
  /** https://127.0.0.1:PORT of HAProxy: the CA's public URL (--url), as clients see it */
  url: string;
  data: string;
  /** the --db every replica and CLI command is given ([] for SQLite's default place) */
  dbArgs: string[];
  rootPem: string;
  rootFile: string;
  chainFile: string;
  adminToken: string;
  replicas: Replica[];
  lb: TestHaproxy;
  pg: TestPostgres | null;
  /** the CLI on the same data and database */
  cli(args: string[]): ReturnType<typeof node>;
  stop(): Promise<void>;
}

/**
 * Inits the CA once (the CLI), then starts `count` replicas on fixed free ports together, each
 * told the load balancer's URL, then HAProxy in front of them; resolves once HAProxy sees all UP.
 */
export async function startReplicaSet(o: {
  backend: Backend;
  count?: number;
  /** more serve flags (the --acme-* ones) */
  serveArgs?: string[];
}): Promise<ReplicaSet> {
  // HAProxy sends each client's address in a PROXY header, from 127.0.0.9, which alone the
  // replicas take headers from: a test talking to a replica directly (from 127.0.0.1) sends none.
  const proxyProtocol = { source: PROXY_SOURCE };
  const dir = mkdtempSync(join(tmpdir(), `certyard-replicas-${o.backend}-`));
  const data = join(dir, "data");
  const started: Replica[] = [];
  let pg: TestPostgres | null = null;
  let lb: TestHaproxy | null = null;
  try {
    pg = o.backend === "postgres" ? await startPostgres() : null;
    const dbArgs = pg ? ["--db", pg.url] : [];
    const cli = (args: string[]) => node(CA_CLI, [...args, "--data", data, ...dbArgs]);
    const init = await cli(["init", "--name", "Replica Test Root CA"]);
    if (init.code !== 0) throw new Error(`init: ${init.stderr}`);
    const lbPort = await freePort();
    const url = `https://127.0.0.1:${lbPort}`;
    const ports = await Promise.all(Array.from({ length: o.count ?? 2 }, () => freePort()));
    // together: replicas starting at once must agree on the database (migrations run once)
    started.push(
      ...(await Promise.all(
        ports.map((port, i) =>
          startReplica(`r${i + 1}`, port, [
            ...["--data", data, "--url", url, ...dbArgs],
            ...["--tls-ip", "127.0.0.1", "--proxy-protocol-from", PROXY_SOURCE, ...(o.serveArgs ?? [])],
          ]),
        ),
      )),
    );
    const proxy = await startHaproxy(
      started.map((r) => ({ name: r.name, host: "127.0.0.1", port: r.port })),
      { port: lbPort, proxyProtocol },
    );
    lb = proxy;
    await proxy.waitUp();
    const set: ReplicaSet = {
      backend: o.backend,
      url,
      data,
      dbArgs,
      rootPem: readFileSync(join(data, "root.crt"), "utf8"),
      rootFile: join(data, "root.crt"),
      chainFile: join(data, "intermediate.crt"),
      adminToken: readFileSync(join(data, "admin-token"), "utf8").trim(),
      replicas: started,
      lb: proxy,
      pg,
      cli,
      async stop() {
        await proxy.stop();
        await Promise.all(started.map((r) => r.stop()));
        await pg?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return set;
  } catch (err) {
    await lb?.stop();
    await Promise.all(started.map((r) => r.stop()));
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The address HAProxy connects to the replicas from. Its port (lbPort above) comes from
 * freePort (support.ts), which hands a port out once and below the ephemeral range, so nothing
 * else takes it between the replicas' start and HAProxy's.
 */
const PROXY_SOURCE = "127.0.0.9";

async function startReplica(name: string, port: number, args: string[]): Promise<Replica> {
  const spawnServe = async () => {
    const child = spawn(
      process.execPath,
      [CA_CLI, "serve", "--listen", `127.0.0.1:${port}`, "--workers", "1", "--log-level", "error", ...args],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await until(`replica ${name} to listen`, async () => out.includes("root fingerprint:"), 60_000);
    return { child, gone };
  };
  let current = await spawnServe();
  const replica: Replica = {
    name,
    url: `https://127.0.0.1:${port}`,
    port,
    child: current.child,
    async kill9() {
      current.child.kill("SIGKILL");
      await current.gone;
    },
    async restart() {
      await stopChild(current.child);
      current = await spawnServe();
      replica.child = current.child;
    },
    stop: () => stopChild(current.child),
  };
  return replica;
}

/** Every serial in the inventory, lower-case hex, from `certs list --json` on the shared database. */
export async function inventorySerials(set: ReplicaSet): Promise<string[]> {
  const r = await set.cli(["certs", "list", "--json"]);
  if (r.code !== 0) throw new Error(`certs list: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial.toLowerCase());
}

/** The token's usesLeft, from `token list --json` on the shared database. */
export async function tokenUsesLeft(set: ReplicaSet, name: string): Promise<number | null> {
  const r = await set.cli(["token", "list", "--json"]);
  if (r.code !== 0) throw new Error(`token list: ${r.stderr}`);
  const row = (JSON.parse(r.stdout) as { name: string; usesLeft: number | null }[]).find(
    (t) => t.name === name,
  );
  if (!row) throw new Error(`no token ${name}`);
  return row.usesLeft;
}

/**
 * What this build says to --db postgres://: its one-line refusal while the PostgreSQL store is
 * not in it, else null (it then tries the URL, here a port nobody listens on, and fails otherwise).
 */
export async function postgresRefusal(): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "certyard-pg-probe-"));
  try {
    const r = await node(CA_CLI, [
      "init",
      "--data",
      join(dir, "data"),
      "--db",
      "postgres://postgres@127.0.0.1:1/certyard",
    ]);
    return r.code !== 0 && /PostgreSQL support is not in this build yet/.test(r.stderr) ? r.stderr : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A lego exec provider (EXEC_PATH) for dns-01 that sets the TXT record in pebble-challtestsrv,
 * says so (presented()), and then waits, with lego's account and order made and its connection
 * idle, until the test calls release(). lego calls it as `present|cleanup FQDN VALUE`.
 */
export function writeGatedExecProvider(dir: string, mgmt: string) {
  const script = join(dir, "gated-exec.sh");
  const marker = join(dir, "gated-presented");
  const fifo = join(dir, "gated.fifo");
  rmSync(marker, { force: true });
  rmSync(fifo, { force: true });
  const mk = spawnSync("mkfifo", [fifo]);
  if (mk.status !== 0) throw new Error(`mkfifo: ${mk.stderr}`);
  writeFileSync(
    script,
    [
      "#!/bin/sh",
      "set -e",
      'case "$1" in',
      `  present) curl -sf -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${mgmt}/set-txt`,
      `    touch '${marker}'`,
      `    read _ < '${fifo}' ;;`,
      `  cleanup) curl -sf -X POST -d "{\\"host\\":\\"$2\\"}" ${mgmt}/clear-txt ;;`,
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return {
    script,
    presented: async () => existsSync(marker),
    /** lets the waiting `present` go on */
    release: () => writeFile(fifo, "go\n"),
  };
}
