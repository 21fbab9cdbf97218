import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { CA_CLI, type CaProcess, dockerBin, sh, until } from "./support.js";

/** Helpers for the fault tests: an engine of the test's own, a CA on a fixed port, a TCP relay. */

export interface OwnDockerd {
  /** unix:///... for DOCKER_HOST */
  host: string;
  docker(args: string[], input?: string): ReturnType<typeof sh>;
  start(): Promise<void>;
  /** SIGTERM, and wait until the process is gone */
  stop(): Promise<void>;
  /** containers removed, engine stopped, its mounts undone, its folder removed */
  destroy(): Promise<void>;
}

/**
 * A dockerd of the test's own (own socket, data root, exec root and pid file, as
 * test/e2e/setup.sh starts the shared one), so that a test may stop it: the shared engine is
 * never stopped. With --live-restore, as production engines run, so that containers keep
 * running while the engine is down. The registry:2 image is copied in from the shared engine.
 */
export async function startOwnDockerd(): Promise<OwnDockerd> {
  // short: the socket's path must fit in sun_path (108 bytes), with containerd's below it
  const dir = mkdtempSync("/tmp/cy-own-");
  const host = `unix://${join(dir, "d.sock")}`;
  let child: ChildProcess | null = null;
  const docker = (args: string[], input?: string) =>
    sh(dockerBin(), ["-H", host, ...args], input === undefined ? {} : { input });
  const up = async () => (await docker(["info", "--format", "{{.ServerVersion}}"])).code === 0;

  const self: OwnDockerd = {
    host,
    docker,
    async start() {
      const log = openSync(join(dir, "dockerd.log"), "a");
      const c = spawn(
        "dockerd",
        [
          ...["--host", host, "--data-root", join(dir, "data"), "--exec-root", join(dir, "x")],
          ...["--pidfile", join(dir, "d.pid"), "--iptables=false", "--ip-masq=false", "--bridge=none"],
          ...["--storage-driver=vfs", "--live-restore"],
        ],
        { stdio: ["ignore", log, log], detached: true },
      );
      closeSync(log);
      child = c;
      c.once("exit", () => {
        if (child === c) child = null;
      });
      await until(
        "the test's own dockerd to answer",
        async () => {
          if (child !== c)
            throw new Error(`dockerd exited: ${readFileSync(join(dir, "dockerd.log"), "utf8").slice(-2000)}`);
          return up();
        },
        60_000,
      );
    },
    async stop() {
      const c = child;
      if (!c) return;
      const gone = new Promise<void>((resolve) => c.once("exit", () => resolve()));
      c.kill("SIGTERM");
      await gone;
    },
    async destroy() {
      if (!child) await self.start().catch(() => {});
      const ids = (await docker(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
      if (ids.length > 0) await docker(["rm", "-f", "-v", ...ids]);
      await self.stop();
      // dockerd leaves its data root and network namespace mounted: undo them, deepest first
      const mounts = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[4] ?? "")
        .filter((m) => m.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await sh("umount", ["-l", m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await self.start();
  const save = spawn(dockerBin(), ["save", "registry:2"], { stdio: ["ignore", "pipe", "inherit"] });
  const load = spawn(dockerBin(), ["-H", host, "load"], { stdio: ["pipe", "ignore", "inherit"] });
  save.stdout?.pipe(load.stdin as NodeJS.WritableStream);
  const loaded = await new Promise<number | null>((resolve) => load.once("exit", resolve));
  if (loaded !== 0) throw new Error("could not load registry:2 into the test's own dockerd");
  return self;
}

/** registry:2 on an engine, as the tutorials run it: TLS from a mounted folder, host network. */
export async function runRegistryOn(
  d: OwnDockerd,
  o: { name: string; port: number; certDir: string; keyFile?: string },
): Promise<void> {
  const r = await d.docker([
    ...["run", "-d", "--name", o.name, "--network", "host", "-v", `${o.certDir}:/certs:ro`],
    ...[
      "-e",
      `REGISTRY_HTTP_ADDR=0.0.0.0:${o.port}`,
      "-e",
      "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt",
    ],
    ...["-e", `REGISTRY_HTTP_TLS_KEY=/certs/${o.keyFile ?? "domain.key"}`, "registry:2"],
  ]);
  if (r.code !== 0) throw new Error(`docker run ${o.name}: ${r.stderr}`);
}

/**
 * libfaketime's environment for a process whose clock runs SHIFT off (e.g. "-5m"), as the
 * faketime command sets it; given directly, so that the process started is node itself (the
 * faketime command forks it and does not pass SIGTERM on).
 */
export const fakeTimeEnv = (shift: string) => ({
  LD_PRELOAD: "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
  FAKETIME: shift,
});

/** `certyard-ca serve` on a fixed port (so a restart is found where it was), with extra environment (fakeTimeEnv). */
export async function startCaAt(
  data: string,
  port: number,
  env: Record<string, string> = {},
): Promise<CaProcess> {
  const args = [CA_CLI, "serve", "--data", data, "--listen", `127.0.0.1:${port}`, "--workers", "1"];
  args.push("--tls-ip", "127.0.0.1", "--log-level", "warn");
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until(
    "the CA to listen",
    async () => {
      if (child.exitCode !== null) throw new Error(`the CA exited with ${child.exitCode}`);
      return out.includes("root fingerprint:");
    },
    60_000,
  );
  return {
    url: `https://127.0.0.1:${port}`,
    data,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * A TCP relay to 127.0.0.1:target (TLS passes through untouched). `beforeNext`, when set, runs
 * once as the next connection arrives, before a byte of it is passed on: a fault placed at the
 * moment the agent asks the CA for its certificate.
 */
export interface Relay {
  port: number;
  beforeNext: (() => Promise<void>) | null;
  close(): void;
}

export async function startRelay(target: number): Promise<Relay> {
  const relay: Relay = { port: 0, beforeNext: null, close: () => server.close() };
  const server: Server = createServer((client) => {
    client.pause();
    const hook = relay.beforeNext;
    relay.beforeNext = null;
    void (hook ? hook() : Promise.resolve()).then(() => {
      const upstream = createConnection(target, "127.0.0.1");
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  relay.port = typeof address === "object" && address ? address.port : 0;
  return relay;
}
