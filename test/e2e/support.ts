import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Helpers for the e2e tests: real processes, the real Docker engine, the test address. */

export const TEST_ADDR = "10.203.0.1";
export const LABEL = "certyard-e2e=1";
export const AGENT = fileURLToPath(new URL("../../services/agent/main.js", import.meta.url));
export const CA_CLI = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function sh(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 180_000,
        maxBuffer: 16 << 20,
        cwd: opts.cwd,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export const node = (script: string, args: string[], opts?: Parameters<typeof sh>[2]) =>
  sh(process.execPath, [script, ...args], opts);

/** The docker client setup.sh found working with this engine. */
export function dockerBin(): string {
  const file = "/tmp/cy-docker-client";
  if (!existsSync(file)) throw new Error("run test/e2e/setup.sh first (no /tmp/cy-docker-client)");
  return readFileSync(file, "utf8").trim();
}

export const docker = (args: string[], opts?: Parameters<typeof sh>[2]) => sh(dockerBin(), args, opts);

/**
 * A port for a server a test starts later, perhaps much later (pebble validates on one fixed at
 * its start). It is taken below the kernel's ephemeral range: a port from that range (what
 * listen(0) gives) can meanwhile become the local port of an outgoing connection, and the
 * server's listen then fails with EADDRINUSE (seen in CI). Each port is handed out once.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow = 32768] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const low = 20_000;
  const high = Math.max(low + 1000, ephemeralLow) - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}
const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "0.0.0.0", () => srv.close(() => resolve(true)));
  });
}

/** Polls `check` with backoff until it returns true or the deadline passes. */
export async function until(what: string, check: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  let delay = 50;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

export interface CaProcess {
  url: string;
  data: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The real CA as users run it: `certyard-ca serve`, on loopback. */
export async function startCaProcess(data: string): Promise<CaProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      CA_CLI,
      "serve",
      "--data",
      data,
      "--listen",
      `127.0.0.1:${port}`,
      "--workers",
      "1",
      "--tls-ip",
      "127.0.0.1",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until("the CA to listen", async () => out.includes("root fingerprint:"), 60_000);
  return {
    url: `https://127.0.0.1:${port}`,
    data,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Runs registry:2 as the tutorials do: TLS and htpasswd from mounted folders, on the test address. */
export async function runRegistry(o: {
  name: string;
  port: number;
  certDir: string;
  authDir?: string;
  certFile?: string;
  keyFile?: string;
}): Promise<void> {
  const args = ["run", "-d", "--name", o.name, "--label", LABEL, "--network", "host"];
  args.push("-v", `${o.certDir}:/certs:ro`, "-e", `REGISTRY_HTTP_ADDR=0.0.0.0:${o.port}`);
  args.push("-e", `REGISTRY_HTTP_TLS_CERTIFICATE=/certs/${o.certFile ?? "domain.crt"}`);
  args.push("-e", `REGISTRY_HTTP_TLS_KEY=/certs/${o.keyFile ?? "domain.key"}`);
  if (o.authDir) {
    args.push("-v", `${o.authDir}:/auth:ro`, "-e", "REGISTRY_AUTH=htpasswd");
    args.push(
      "-e",
      "REGISTRY_AUTH_HTPASSWD_REALM=Registry",
      "-e",
      "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
    );
  }
  const r = await docker([...args, "registry:2"]);
  if (r.code !== 0) throw new Error(`docker run ${o.name} failed: ${r.stderr}`);
}

export async function removeContainer(name: string): Promise<void> {
  await docker(["rm", "-f", name]);
}

export async function containerStartedAt(name: string): Promise<string> {
  return (await docker(["inspect", "--format", "{{.State.StartedAt}}", name])).stdout.trim();
}
