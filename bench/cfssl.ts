/**
 * cfssl as the baseline for `npm run bench`: a throwaway cfssl CA served by `cfssl serve` over TLS,
 * so its `/api/v1/cfssl/sign` can be loaded with the same client and body shape as our `POST /v1/sign`.
 * Verified against Debian 12's golang-cfssl 1.2.0+git20160825.89.7fb22c8-3.1+b11 (see README-cfssl.md).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import Database from "better-sqlite3";

const run = promisify(execFile);

export interface CfsslServer {
  /** Full URL of the sign endpoint, e.g. https://127.0.0.1:8899/api/v1/cfssl/sign. */
  url: string;
  /** Root that issued both the TLS certificate of the server and the certificates it signs. */
  caCertPem: string;
  stop(): Promise<void>;
}

export const CFSSL_SIGN_PATH = "/api/v1/cfssl/sign";
const INFO_PATH = "/api/v1/cfssl/info";
const HOST = "127.0.0.1";
const READY_DEADLINE_MS = 15_000;
const POLL_INTERVAL_MS = 100;
const STOP_DEADLINE_MS = 5_000;
// gencert prints INFO lines on stderr and can print a lot of them; the default 1 MiB is plenty.
const EXEC_MAX_BUFFER = 16 * 1024 * 1024;

/**
 * The JSON body for cfssl's sign endpoint. `hosts` is left out on purpose: when present it *replaces*
 * the CSR's SANs, and our endpoint takes SANs from the CSR, so both servers see the same request.
 */
export function cfsslSignBody(csrPem: string): string {
  return JSON.stringify({ certificate_request: csrPem });
}

/**
 * Installs golang-cfssl with apt-get if `cfssl` is not on PATH, makes a throwaway CA and TLS cert in `dir`, starts `cfssl serve` over TLS on 127.0.0.1:port, waits until it answers, returns.
 * `certdb`: cfssl records every certificate it signs in its certificate database (`-db-config`,
 * SQLite), as a cfssl CA that revokes or serves OCSP must; without it cfssl keeps nothing.
 */
export async function startCfssl(
  dir: string,
  port: number,
  o: { certdb?: "defaults" | "wal" } = {},
): Promise<CfsslServer> {
  await ensureCfsslInstalled();
  await mkdir(dir, { recursive: true });
  const files = await writeCaAndTlsCert(dir);
  const dbConfig = o.certdb ? await writeCertdb(dir, o.certdb) : null;
  const child = await spawnServe(dir, port, files, dbConfig);
  const stop = stopper(child);
  const url = `https://${HOST}:${port}`;
  try {
    await waitUntilReady(url, files.caCertPem, child, join(dir, "cfssl-serve.log"));
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: url + CFSSL_SIGN_PATH, caCertPem: files.caCertPem, stop };
}

async function ensureCfsslInstalled(): Promise<void> {
  if (await cfsslOnPath()) return;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // A fresh machine may have no package lists at all, so install without update finds nothing.
  await runOrExplain("apt-get", ["update"], env, "apt-get update failed (are you root?)");
  await runOrExplain("apt-get", ["install", "-y", "golang-cfssl"], env, "could not install golang-cfssl");
  if (!(await cfsslOnPath())) throw new Error("golang-cfssl installed but `cfssl` is still not on PATH");
}

async function cfsslOnPath(): Promise<boolean> {
  try {
    await run("cfssl", ["version"]);
    return true;
  } catch (err) {
    if (isErrnoException(err) && err.code === "ENOENT") return false;
    throw new Error(`\`cfssl version\` failed: ${describe(err)}`);
  }
}

async function runOrExplain(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  what: string,
): Promise<void> {
  try {
    await run(cmd, args, { env, maxBuffer: EXEC_MAX_BUFFER });
  } catch (err) {
    throw new Error(`${what}: ${describe(err)}`);
  }
}

interface CaFiles {
  caCertPem: string;
  caCert: string;
  caKey: string;
  config: string;
  tlsCert: string;
  tlsKey: string;
}

/** One P-256 root signs both the server's TLS certificate and the benchmark's leaves, so one PEM trusts all. */
async function writeCaAndTlsCert(dir: string): Promise<CaFiles> {
  const files: CaFiles = {
    caCertPem: "",
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    config: join(dir, "config.json"),
    tlsCert: join(dir, "server.pem"),
    tlsKey: join(dir, "server-key.pem"),
  };
  await writeFile(files.config, JSON.stringify(signingConfig(), null, 2));

  const ca = await gencert(dir, "ca-csr.json", caCsr(), ["-initca"]);
  await writeFile(files.caCert, ca.cert);
  await writeFile(files.caKey, ca.key, { mode: 0o600 });

  const tls = await gencert(dir, "server-csr.json", serverCsr(), [
    "-ca",
    files.caCert,
    "-ca-key",
    files.caKey,
    "-config",
    files.config,
  ]);
  await writeFile(files.tlsCert, tls.cert);
  await writeFile(files.tlsKey, tls.key, { mode: 0o600 });

  return { ...files, caCertPem: ca.cert };
}

/**
 * Only a default profile and no auth_keys: that is what makes the plain (unauthenticated) sign endpoint
 * serve requests. Usages match what our CA puts on registry certificates.
 */
function signingConfig(): object {
  return {
    signing: {
      default: {
        expiry: "720h",
        usages: ["signing", "digital signature", "key encipherment", "server auth", "client auth"],
      },
    },
  };
}

function caCsr(): object {
  return {
    CN: "certyard bench cfssl CA",
    key: { algo: "ecdsa", size: 256 },
    names: [{ O: "certyard bench" }],
  };
}

function serverCsr(): object {
  return { CN: HOST, hosts: [HOST, "localhost"], key: { algo: "ecdsa", size: 256 } };
}

interface GencertOutput {
  cert: string;
  key: string;
}

/** Reads gencert's JSON ourselves instead of piping to cfssljson, to avoid a shell and a second binary. */
async function gencert(dir: string, csrFile: string, csr: object, args: string[]): Promise<GencertOutput> {
  const csrPath = join(dir, csrFile);
  await writeFile(csrPath, JSON.stringify(csr));
  let stdout: string;
  try {
    ({ stdout } = await run("cfssl", ["gencert", ...args, csrPath], { maxBuffer: EXEC_MAX_BUFFER }));
  } catch (err) {
    throw new Error(`cfssl gencert ${args.join(" ")} failed: ${describe(err)}`);
  }
  const out: unknown = JSON.parse(stdout);
  if (!isRecord(out) || typeof out.cert !== "string" || typeof out.key !== "string") {
    throw new Error(`cfssl gencert printed no cert/key: ${stdout.slice(0, 500)}`);
  }
  return { cert: out.cert, key: out.key };
}

/**
 * cfssl's certificate database on SQLite, with the tables of the migration that Debian's cfssl
 * (1.2.0, 2016) ships in certdb/sqlite/migrations/001_CreateCertificates.sql, left in SQLite's
 * defaults as cfssl's users get them (go-sqlite3: rollback journal, synchronous FULL, a 5 s busy
 * timeout), or in WAL mode (the file keeps it), as serve's is. Returns the `-db-config` file.
 */
async function writeCertdb(dir: string, mode: "defaults" | "wal"): Promise<string> {
  const path = join(dir, "certdb.sqlite");
  const db = new Database(path);
  try {
    if (mode === "wal") db.pragma("journal_mode = WAL");
    db.exec(`create table certificates (
      serial_number blob not null, authority_key_identifier blob not null, ca_label blob,
      status blob not null, reason int, expiry timestamp, revoked_at timestamp, pem blob not null,
      primary key (serial_number, authority_key_identifier));
    create table ocsp_responses (
      serial_number blob not null, authority_key_identifier blob not null, body blob not null,
      expiry timestamp, primary key (serial_number, authority_key_identifier),
      foreign key (serial_number, authority_key_identifier)
        references certificates (serial_number, authority_key_identifier));`);
  } finally {
    db.close();
  }
  const config = join(dir, "db-config.json");
  await writeFile(config, JSON.stringify({ driver: "sqlite3", data_source: path }));
  return config;
}

async function spawnServe(
  dir: string,
  port: number,
  files: CaFiles,
  dbConfig: string | null,
): Promise<ChildProcess> {
  // cfssl logs every request; a file keeps that off a pipe that nobody would drain during the load.
  const log = await open(join(dir, "cfssl-serve.log"), "w");
  try {
    const child = spawn(
      "cfssl",
      [
        "serve",
        "-address",
        HOST,
        "-port",
        String(port),
        "-ca",
        files.caCert,
        "-ca-key",
        files.caKey,
        "-config",
        files.config,
        "-tls-cert",
        files.tlsCert,
        "-tls-key",
        files.tlsKey,
        ...(dbConfig === null ? [] : ["-db-config", dbConfig]),
      ],
      { stdio: ["ignore", log.fd, log.fd] },
    );
    await once(child, "spawn");
    return child;
  } catch (err) {
    throw new Error(`could not start cfssl serve: ${describe(err)}`);
  } finally {
    // The child has its own copy of the descriptor.
    await log.close();
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  // A bench that crashes between start and stop must not leave cfssl holding the port.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  return async () => {
    process.removeListener("exit", killOnExit);
    if (hasExited(child)) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const timer = delay(STOP_DEADLINE_MS, "timeout" as const);
    if ((await Promise.race([exited, timer])) === "timeout") {
      child.kill("SIGKILL");
      await exited;
    }
  };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Ready means the signer is loaded, not just that the port is open, so poll `info` (which needs the CA).
 * Verifying TLS against our own root also guarantees we are not talking to something else on that port.
 */
async function waitUntilReady(
  url: string,
  caCertPem: string,
  child: ChildProcess,
  logPath: string,
): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let lastError = "no attempt";
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      throw new Error(
        `cfssl serve exited (${child.exitCode ?? child.signalCode}):\n${await logTail(logPath)}`,
      );
    }
    try {
      if (await infoAnswers(url + INFO_PATH, caCertPem)) return;
      lastError = "info did not report success";
    } catch (err) {
      lastError = describe(err);
    }
    await delay(POLL_INTERVAL_MS);
  }
  throw new Error(
    `cfssl serve not ready after ${READY_DEADLINE_MS} ms (${lastError}):\n${await logTail(logPath)}`,
  );
}

function infoAnswers(url: string, caCertPem: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", ca: caCertPem, headers: { "content-type": "application/json" }, timeout: 2_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve(res.statusCode === 200 && reportsSuccess(Buffer.concat(chunks))));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("info request timed out")));
    req.on("error", reject);
    req.end("{}");
  });
}

function reportsSuccess(body: Buffer): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return isRecord(parsed) && parsed.success === true;
  } catch {
    return false;
  }
}

async function logTail(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && "code" in err;
}

/**
 * execFile's message embeds the child's whole stderr (apt-get's can be long); the command line and the
 * last lines are where apt-get and cfssl say what went wrong.
 */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const stderr = "stderr" in err && typeof err.stderr === "string" ? err.stderr.trim() : "";
  if (!stderr) return err.message;
  const firstLine = err.message.split("\n")[0] ?? err.message;
  return `${firstLine}\n${stderr.split("\n").slice(-10).join("\n")}`;
}
