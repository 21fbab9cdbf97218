import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real HAProxy (Debian's `haproxy`, which test/e2e/setup.sh installs) in TCP mode in front of
 * replicas: TLS passes through to them untouched (mutual TLS renewal included), round robin, an
 * HTTPS health check of each replica's /healthz every 500 ms (down after 2 failures, up after 1
 * success), a connection refused by a dead replica retried on another (`option redispatch`).
 * Started per test on a free port, in the foreground (-db), stopped on stop() or at process
 * exit. Its admin socket answers `show stat`, which tells which replica took how many
 * connections and which are up. Missing haproxy is an error (CI=true or not): never a skip.
 * See ../../../shared/notes/real-components.md, "PostgreSQL and HAProxy".
 */
export const HAPROXY = "/usr/sbin/haproxy";

export interface Backend {
  name: string;
  host: string;
  port: number;
}

export interface ServerStat {
  /** UP, DOWN, "UP 1/2", "DOWN 1/2", MAINT, ... as HAProxy says it */
  status: string;
  /** connections it has taken in all */
  sessions: number;
  /** connections open to it now */
  current: number;
}

export interface TestHaproxy {
  /** 127.0.0.1:PORT, where clients connect */
  address: string;
  port: number;
  /** by backend name, from the admin socket's `show stat` */
  stats(): Promise<Record<string, ServerStat>>;
  /** waits until every named replica is UP (all of them when none are named) */
  waitUp(names?: string[], timeoutMs?: number): Promise<void>;
  /** waits until the named replica is seen DOWN by the health check */
  waitDown(name: string, timeoutMs?: number): Promise<void>;
  /** one raw command on the admin socket (`show sess`, ...) and its answer */
  admin(command: string): Promise<string>;
  stop(): Promise<void>;
}

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

/** Send the PROXY protocol to the replicas, connecting from `source` (a loopback address). */
export interface ProxyProtocolOption {
  source: string;
}

/** The configuration: one frontend, one backend of `backends`, an admin socket in `dir`. */
export function haproxyConfig(o: {
  port: number;
  backends: Backend[];
  socket: string;
  proxyProtocol?: ProxyProtocolOption;
}): string {
  return [
    "global",
    `  stats socket ${o.socket} mode 600 level admin`,
    "  maxconn 2000",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    // a request may wait on ACME validation or a busy database: inactivity, not request time
    "  timeout client 90s",
    "  timeout server 90s",
    "  retries 3",
    "  option redispatch 1",
    "frontend ca",
    `  bind 127.0.0.1:${o.port}`,
    "  default_backend replicas",
    "backend replicas",
    "  balance roundrobin",
    "  option httpchk GET /healthz",
    "  http-check expect status 200",
    "  default-server check check-ssl verify none inter 500 fall 2 rise 1",
    // the client's address in a PROXY v2 header, on every connection and check, from an address
    // of its own that the replicas trust for it (--proxy-protocol-from)
    ...(o.proxyProtocol
      ? [`  source ${o.proxyProtocol.source}`, "  default-server send-proxy-v2 check-send-proxy"]
      : []),
    ...o.backends.map((b) => `  server ${b.name} ${b.host}:${b.port}`),
    "",
  ].join("\n");
}

/** `o.port`: the port to listen on (a free one of the kernel's when not given). */
export async function startHaproxy(
  backends: Backend[],
  o: { port?: number; proxyProtocol?: ProxyProtocolOption } = {},
): Promise<TestHaproxy> {
  const check = spawnSync(HAPROXY, ["-v"], { encoding: "utf8" });
  if (check.error || check.status !== 0) {
    throw new Error(
      `${HAPROXY} does not run (${check.error?.message ?? check.stderr}): run test/e2e/setup.sh`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "certyard-haproxy-"));
  const socket = join(dir, "admin.sock");
  const cfg = join(dir, "haproxy.cfg");
  let child: ChildProcess | null = null;
  let output = "";
  const kill = () => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", kill);
  const admin = (command: string) => adminCommand(socket, command);
  const stats = async () => parseStats(await admin("show stat"));
  const waitFor = async (what: string, ok: (s: Record<string, ServerStat>) => boolean, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    let last: Record<string, ServerStat> = {};
    for (;;) {
      if (child?.exitCode !== null || child?.signalCode !== null)
        throw new Error(`haproxy exited: ${output}`);
      last = await stats().catch(() => ({}));
      if (ok(last)) return;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; haproxy says ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    for (let attempt = 1; ; attempt++) {
      const port = o.port ?? (await freePort());
      writeFileSync(cfg, haproxyConfig({ port, backends, socket, proxyProtocol: o.proxyProtocol }));
      output = "";
      const started = spawn(HAPROXY, ["-f", cfg, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
      child = started;
      started.stdout?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      started.stderr?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      try {
        // the admin socket answers once the configuration is loaded and the port bound
        await waitFor("haproxy to start", (s) => backends.every((b) => s[b.name] !== undefined), 15_000);
      } catch (err) {
        started.kill("SIGKILL");
        // another process took the port between freePort and the bind: try another
        if (o.port === undefined && attempt < 3 && /cannot bind|Address already in use/i.test(output))
          continue;
        throw err;
      }
      return {
        address: `127.0.0.1:${port}`,
        port,
        stats,
        admin,
        waitUp: (names = backends.map((b) => b.name), timeoutMs = 30_000) =>
          waitFor(`${names.join(", ")} UP`, (s) => names.every((n) => s[n]?.status === "UP"), timeoutMs),
        waitDown: (name, timeoutMs = 30_000) =>
          waitFor(`${name} DOWN`, (s) => s[name]?.status.startsWith("DOWN") === true, timeoutMs),
        async stop() {
          process.off("exit", kill);
          await new Promise<void>((resolve) => {
            if (started.exitCode !== null || started.signalCode !== null) return resolve();
            started.once("exit", () => resolve());
            // SIGUSR1: soft stop; SIGTERM: at once. The test is over: at once.
            started.kill("SIGTERM");
          });
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    process.off("exit", kill);
    kill();
    throw err;
  }
}

function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      out += d;
    });
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.end(`${command}\n`);
  });
}

/** `show stat` is CSV headed by `# pxname,svname,...`; the backend's servers, by name. */
export function parseStats(csv: string): Record<string, ServerStat> {
  const [head, ...rows] = csv.trim().split("\n");
  const cols = (head ?? "").replace(/^# /, "").split(",");
  const at = (row: string[], col: string) => row[cols.indexOf(col)] ?? "";
  const out: Record<string, ServerStat> = {};
  for (const line of rows) {
    const row = line.split(",");
    const name = at(row, "svname");
    if (at(row, "pxname") !== "replicas" || name === "BACKEND") continue;
    out[name] = {
      status: at(row, "status"),
      sessions: Number(at(row, "stot")),
      current: Number(at(row, "scur")),
    };
  }
  return out;
}
