import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { caPaths, isInitialised } from "../../services/ca/keys/paths.js";
import { runAsync } from "./run-async.js";
import { cliDbEnv, dataDirOf, freshDbSync } from "./test-db.js";

export const CA_BIN = fileURLToPath(new URL("../../services/ca/main.js", import.meta.url));

/**
 * The environment a certyard-ca command line runs in: the suite's database for its --data
 * (test-db.ts; made fresh for `init`), then `env`.
 */
export function caEnv(args: string[], env: Record<string, string> = {}): Record<string, string> {
  const db = cliDbEnv(args, env);
  const data = dataDirOf(args, env);
  // init, and serve, in a directory not initialised yet start from an empty database
  const starts = (args[0] === "init" || args[0] === "serve") && !isInitialised(caPaths(data ?? "."));
  if (db.CERTYARD_DB && data !== undefined && starts) freshDbSync(data);
  return { ...db, ...env };
}

/** The built certyard-ca, run to its end. */
export function caCli(
  args: string[],
  env: Record<string, string> = {},
  o: { input?: string; timeout?: number } = {},
) {
  const r = spawnSync(process.execPath, [CA_BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...caEnv(args, env) },
    ...o,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The built certyard-ca, not blocking this process (a CA this process talks to may be in it). */
export const caCliAsync = (args: string[], o: { env?: Record<string, string>; stdin?: string } = {}) =>
  runAsync(CA_BIN, args, { ...o, env: caEnv(args, o.env) });

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** what serve printed when it announced itself */
  announced: string;
  stop(): Promise<number | null>;
}

/** `certyard-ca serve` as its own process on a loopback port; resolves once it has announced itself. */
export async function serveProcess(data: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [CA_BIN, "serve", "--data", data, "--listen", "127.0.0.1:0", "--workers", "1", ...extra],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...caEnv(["serve", "--data", data, ...extra]) },
    },
  );
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)[\s\S]*admin token:/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return {
    child,
    url: `https://127.0.0.1:${port}`,
    announced: out,
    stop: () =>
      new Promise((resolve) => {
        // gone already: exited, or killed by a signal (exitCode is then null)
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}
