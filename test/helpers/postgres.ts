import { execFile, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

/**
 * A real, throwaway PostgreSQL 15 cluster (Debian's `postgresql`, which test/e2e/setup.sh
 * installs): initdb and pg_ctl run as the user postgres in a temporary directory, listening on
 * 127.0.0.1 at a free port and on a Unix socket in that directory, trust authentication (the
 * cluster is reachable only from this host, for the length of a test). Needs root, as the e2e
 * tests do. See ../../../shared/notes/real-components.md, "PostgreSQL and HAProxy".
 */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/DB */
  url: string;
  /** postgres://postgres@/DB?host=DIR&port=PORT: the same database over the Unix socket */
  socketUrl: string;
  port: number;
  /** the socket directory (and the cluster's parent directory) */
  dir: string;
  database: string;
  /** runs SQL through psql as postgres in the database; its stdout, unaligned and without headers */
  sql(statement: string): Promise<string>;
  /** stops the server (immediate: as a crash would), keeping its files, for startServer */
  stopServer(): Promise<void>;
  /** starts the server again on the same port and socket */
  startServer(): Promise<void>;
  /** every new transaction read-only (default_transaction_read_only), as a standby answers;
   *  in force in every open session when it returns */
  setReadOnly(on: boolean): Promise<void>;
  /** stops the cluster (fast shutdown) and removes its files */
  stop(): Promise<void>;
}

const AS_POSTGRES = ["-u", "postgres", "--"];

function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A port nobody listens on now (the kernel's pick); pg_ctl may still lose it to a race. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(
  o: {
    database?: string;
    /** server settings (`-c NAME=VALUE`), e.g. max_connections for a suite with many CAs */
    settings?: Record<string, string>;
  } = {},
): Promise<TestPostgres> {
  const database = o.database ?? "certyard";
  if (userInfo().uid !== 0) throw new Error("startPostgres needs root (initdb and pg_ctl run as postgres)");
  if (!existsSync(join(PG_BIN, "initdb"))) {
    throw new Error(`${PG_BIN}/initdb is missing: run test/e2e/setup.sh (it installs postgresql)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "certyard-pg-"));
  const data = join(dir, "data");
  // postgres must reach the directory: mkdtemp makes it 0700 and root's
  chmodSync(dir, 0o755);
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
  const pgCtl = (...args: string[]) =>
    run("runuser", [...AS_POSTGRES, join(PG_BIN, "pg_ctl"), "-D", data, ...args]);
  // If the test process dies without stop(), the cluster must not outlive it.
  const kill = () => {
    spawnSync("runuser", [...AS_POSTGRES, join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "stop"]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", kill);
  try {
    await run("runuser", [
      ...AS_POSTGRES,
      join(PG_BIN, "initdb"),
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "--no-instructions",
    ]);
    let port = 0;
    const start = () =>
      pgCtl(
        "-o",
        [
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
          ...Object.entries(o.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`),
        ].join(" "),
        "-l",
        join(dir, "log"),
        "-w",
        "-t",
        "60",
        "start",
      );
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        // another process took the port between freePort and the start: try another
        if (attempt >= 3) throw err;
      }
    }
    const psql = (db: string, statement: string) =>
      run("runuser", [
        ...AS_POSTGRES,
        join(PG_BIN, "psql"),
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        dir,
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        db,
        "-c",
        statement,
      ]);
    await psql("postgres", `create database "${database.replaceAll('"', '""')}"`);
    const name = encodeURIComponent(database);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/${name}`,
      socketUrl: `postgres://postgres@/${name}?host=${dir}&port=${port}`,
      port,
      dir,
      database,
      sql: (statement) => psql(database, statement),
      stopServer: async () => {
        await pgCtl("-m", "immediate", "-w", "stop");
      },
      startServer: async () => {
        await start();
      },
      setReadOnly: async (on) => {
        await psql("postgres", `alter system set default_transaction_read_only = ${on ? "on" : "off"}`);
        await psql("postgres", "select pg_reload_conf()");
        // pg_reload_conf only signals the postmaster. Once a new session sees the value, the
        // postmaster has re-read the file and signalled every backend, and a backend reloads
        // before it runs the next command it reads: the pools' open sessions obey it from here.
        const want = on ? "on" : "off";
        for (let i = 0; (await psql("postgres", "show default_transaction_read_only")).trim() !== want; i++) {
          if (i === 100) throw new Error(`default_transaction_read_only still not ${want}`);
        }
      },
      async stop() {
        process.off("exit", kill);
        try {
          await pgCtl("-m", "fast", "-w", "stop");
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    process.off("exit", kill);
    kill();
    throw err;
  }
}

function postgresUser(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0) throw new Error("no user postgres: run test/e2e/setup.sh");
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}
