import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { init } from "../../services/ca/cli/init.js";
import type { DataOpts } from "../../services/ca/cli/options.js";
import { caPaths } from "../../services/ca/keys/ca.js";
import { type RunningServer, type ServeConfig, startServer } from "../../services/ca/server.js";
import { dataOpts, dbLocationFor, dropDb, freshDb } from "./test-db.js";

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** raw body bytes, sent as they are */
  raw?: string | Buffer;
  token?: string;
  /** client certificate (PEM chain) and key for mutual TLS */
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}

export interface TestCa {
  url: string;
  port: number;
  dataDir: string;
  /** `{ data, db }` for the CLI's functions run on this CA (the database: test-db.ts) */
  data: DataOpts;
  rootPem: string;
  adminToken: string;
  server: RunningServer;
  request(path: string, opts?: RequestOptions): Promise<HttpResult>;
  /** POST /v1/tokens with the admin token; returns the secret */
  createToken(fields: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface StartOptions {
  permitDns?: string[];
  permitIp?: string[];
  keyType?: string;
  clock?: () => number;
  /** names of the serving certificate (default localhost and 127.0.0.1) */
  servingNames?: { dns: string[]; ips: string[] };
  /** ACME validation ports and limits, passed to the server as they are */
  acme?: ServeConfig["acme"];
  /** connection timeouts and cap, passed to the server as they are */
  connections?: ServeConfig["connections"];
  /** an initialised data directory to serve (a restart): not initialised, and kept on close */
  dataDir?: string;
  /** how often serve looks for a rotation (default 5 s) */
  rotationCheckMs?: number;
  /** the port to listen on (default: any free one); a restart passes the one it had */
  port?: number;
  /** where the server logs (default: nowhere) */
  log?: Logger;
  /** failed authentications per client address before 429 (suites that send many raise it) */
  failedAuth?: ServeConfig["failedAuth"];
  /** addresses whose connections begin with a PROXY header (serve --proxy-protocol-from) */
  proxyProtocolFrom?: string[];
  /** serve --alert-webhook, and how often the alerts are checked and retried */
  alertWebhooks?: ServeConfig["alertWebhooks"];
  alertCheckMs?: number;
  alertRetry?: ServeConfig["alertRetry"];
  /** false (serve --no-crypto-thread): CSR verify and signing on libuv's threadpool, not in a thread */
  cryptoThread?: boolean;
}

/** A real CA in a temporary data directory, serving real HTTPS on a random loopback port. */
export async function startCa(opts: StartOptions = {}): Promise<TestCa> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "certyard-test-"));
  if (!opts.dataDir) {
    await freshDb(dataDir);
    await init({
      ...dataOpts(dataDir),
      name: "Test Root CA",
      keyType: opts.keyType ?? "ec-p256",
      permitDns: opts.permitDns,
      permitIp: opts.permitIp,
    });
  }
  const paths = caPaths(dataDir, dbLocationFor(dataDir));
  const server = await startServer({
    paths,
    host: "127.0.0.1",
    port: opts.port ?? 0,
    url: `https://127.0.0.1:${opts.port ?? 0}`,
    servingNames: opts.servingNames ?? { dns: ["localhost"], ips: ["127.0.0.1"] },
    log: opts.log ?? pino({ level: "silent" }),
    clock: opts.clock,
    // validation here connects to responders on loopback, which serve refuses unless allowed
    acme: { allow: ["127.0.0.0/8", "::1"], ...opts.acme },
    connections: opts.connections,
    rotationCheckMs: opts.rotationCheckMs,
    failedAuth: opts.failedAuth,
    proxyProtocolFrom: opts.proxyProtocolFrom,
    alertWebhooks: opts.alertWebhooks,
    alertCheckMs: opts.alertCheckMs,
    alertRetry: opts.alertRetry,
    cryptoThread: opts.cryptoThread,
  });
  const rootPem = readFileSync(paths.rootCert, "utf8");
  const adminToken = readFileSync(paths.adminToken, "utf8").trim();
  const url = `https://127.0.0.1:${server.port}`;
  const ca: TestCa = {
    url,
    port: server.port,
    dataDir,
    data: dataOpts(dataDir),
    rootPem,
    adminToken,
    server,
    request: (path, o = {}) => httpsRequest(url + path, rootPem, o),
    async createToken(fields) {
      const res = await ca.request("/v1/tokens", { method: "POST", body: fields, token: adminToken });
      if (res.status !== 201) throw new Error(`token create failed: ${res.status} ${res.body.toString()}`);
      return res.json<{ token: string }>().token;
    },
    async close() {
      await server.close();
      if (!opts.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropDb(dataDir);
      }
    },
  };
  return ca;
}

export function httpsRequest(url: string, rootPem: string, o: RequestOptions = {}): Promise<HttpResult> {
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = { ...o.headers };
  if (payload !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? (payload === undefined ? "GET" : "POST"),
        ca: rootPem,
        cert: o.cert,
        key: o.key,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString()) as T,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
