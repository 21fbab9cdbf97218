/**
 * ACME issuance throughput (issue 5): `certyard-ca serve` with its RFC 8555 server, many accounts in
 * parallel, each looping newOrder (ip 127.0.0.1) -> authorization -> http-01 -> poll -> finalize with
 * a fresh key and CSR -> download, for the load duration. http-01 is answered by a local HTTP server
 * (the CA's --acme-http-port) from a map every client fills. Only 127.0.0.1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  type AccountKey,
  accountKeyFrom,
  externalAccountBinding,
  keyAuthorization,
  signRequest,
} from "../services/agent/issuers/acme/jws.js";
import { keyAndCsr } from "../services/agent/keygen.js";
import { generateKey } from "../shared/keys.js";
import { CA_MAIN, httpsRequest } from "./ca-process.js";
import { type Cleanup, describe, freePort, heading, line, pemToDer, round, run } from "./util.js";

const HOST = "127.0.0.1";
const REQUEST_TIMEOUT_MS = 15_000;
/** One issuance gives up after this long (polls included). */
const ISSUANCE_DEADLINE_MS = 60_000;
/**
 * The server allows 300 newOrder per account per hour (limits.rateLimit, not a serve flag): an
 * account that has placed this many orders is replaced by a fresh one, so 429s never cut the run short.
 */
const ORDERS_PER_ACCOUNT = 250;
const MAX_RETRY_AFTER_MS = 2_000;

export interface AcmeBenchOptions {
  seconds: number;
  accounts: number;
}

export type AcmeFigures = Record<string, number | string | null>;

export async function acmeBench(cleanup: Cleanup, root: string, o: AcmeBenchOptions): Promise<AcmeFigures> {
  const data = join(root, "acme");
  await mkdir(data, { recursive: true });
  await run(process.execPath, [CA_MAIN, "init", "--data", data, "--name", "bench ACME root"]);
  const { stdout } = await run(process.execPath, [
    CA_MAIN,
    "eab",
    "create",
    "--data",
    data,
    "--name",
    "bench",
    "--ip",
    HOST,
    // every account the run registers binds this one EAB
    "--accounts",
    "100000",
  ]);
  const [kid, hmac] = stdout.trim().split(" ");
  if (!kid || !hmac) throw new Error(`eab create printed an unexpected: ${stdout}`);

  const answers = new Map<string, string>();
  const challenges = await startChallengeServer(answers);
  const releaseChallenges = cleanup.add("stop the http-01 server", () => closeServer(challenges.server));
  try {
    const ca = await startAcmeCa(data, await freePort(), challenges.port);
    const releaseCa = cleanup.add("stop serve (ACME)", () => ca.stop());
    try {
      return await measure(`${ca.baseUrl}/acme/directory`, ca.rootPem, kid, hmac, answers, o);
    } finally {
      releaseCa();
      await ca.stop();
    }
  } finally {
    releaseChallenges();
    await closeServer(challenges.server);
  }
}

async function measure(
  directoryUrl: string,
  rootPem: string,
  kid: string,
  hmac: string,
  answers: Map<string, string>,
  o: AcmeBenchOptions,
): Promise<AcmeFigures> {
  heading(`ACME issuance, ${o.accounts} accounts in parallel, ${o.seconds} s`);
  const errors = new Map<string, number>();
  const noteError = (err: unknown) => {
    const key = (err instanceof Error ? err.message : String(err)).slice(0, 160);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  };
  const agents: Agent[] = [];
  const newAgent = () => {
    const a = new Agent({ keepAlive: true, maxSockets: 4, ca: rootPem });
    agents.push(a);
    return a;
  };
  try {
    let registrations = 0;
    const register = async (): Promise<BenchAcmeClient> => {
      const c = await BenchAcmeClient.create(directoryUrl, newAgent());
      await c.register(kid, hmac);
      registrations++;
      return c;
    };
    const regStart = performance.now();
    const clients = await Promise.all(Array.from({ length: o.accounts }, register));
    const registerMs = performance.now() - regStart;
    // warm-up, unmeasured: one issuance per account (JIT, connections, first statements)
    await Promise.all(clients.map((c) => issue(c, answers).catch(noteError)));
    const warmupErrors = [...errors.values()].reduce((a, b) => a + b, 0);
    errors.clear();

    const latencies: number[] = [];
    const start = performance.now();
    const end = start + o.seconds * 1000;
    await Promise.all(
      clients.map(async (first) => {
        let client = first;
        while (performance.now() < end) {
          try {
            if (client.orders >= ORDERS_PER_ACCOUNT) client = await register();
            const t0 = performance.now();
            await issue(client, answers);
            latencies.push(performance.now() - t0);
          } catch (err) {
            noteError(err);
            await delay(100);
          }
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    const perSecond = latencies.length / elapsed;
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    line("issuances/s (order -> certificate downloaded)", perSecond);
    line("issuances", latencies.length);
    line("one issuance p50", p50, "ms");
    line("one issuance p99", p99, "ms");
    line("one issuance max", latencies.at(-1) ?? 0, "ms");
    line("errors", errorCount);
    for (const [message, n] of errors) line(`  x${n}`, message.slice(0, 60));
    line("accounts registered (EAB), in total", registrations);
    line(`  the first ${o.accounts}, in parallel`, registerMs, "ms");
    line("warm-up errors", warmupErrors);
    return {
      accounts: o.accounts,
      seconds: round(elapsed),
      issuances: latencies.length,
      issuancesPerSec: round(perSecond),
      p50Ms: round(p50),
      p99Ms: round(p99),
      maxMs: round(latencies.at(-1) ?? 0),
      errors: errorCount,
      errorSample: errors.size === 0 ? null : [...errors].map(([m, n]) => `${n}x ${m}`).join("; "),
      accountsRegistered: registrations,
      registerMs: round(registerMs),
      ordersPerAccountCap: ORDERS_PER_ACCOUNT,
    };
  } finally {
    for (const a of agents) a.destroy();
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

interface Order {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
}
interface Authz {
  status: string;
  challenges: { type: string; url: string; token: string; status?: string }[];
}

/** One full issuance for 127.0.0.1 with a fresh P-256 key; throws on anything unexpected. */
async function issue(client: BenchAcmeClient, answers: Map<string, string>): Promise<void> {
  const deadline = Date.now() + ISSUANCE_DEADLINE_MS;
  client.orders++;
  const created = await client.post(client.url("newOrder"), { identifiers: [{ type: "ip", value: HOST }] });
  expect(created, 201, "newOrder");
  const orderUrl = String(created.headers.location);
  let order = created.json<Order>();
  const tokens: string[] = [];
  try {
    for (const authzUrl of order.authorizations) {
      const authz = await client.post(authzUrl, null);
      expect(authz, 200, "authorization");
      const a = authz.json<Authz>();
      if (a.status === "valid") continue;
      const http01 = a.challenges.find((c) => c.type === "http-01");
      if (!http01) throw new Error("no http-01 challenge");
      answers.set(http01.token, await keyAuthorization(http01.token, client.key.jwk));
      tokens.push(http01.token);
      const ch = await client.post(http01.url, {});
      expect(ch, 200, "challenge");
      await pollUntil(client, authzUrl, deadline, "authorization", (s) => s === "valid");
    }
    order = (await pollUntil(client, orderUrl, deadline, "order", (s) => s !== "pending")).json<Order>();
    if (order.status !== "ready") throw new Error(`order ${order.status}, not ready`);
  } finally {
    for (const t of tokens) answers.delete(t);
  }
  const { csrPem } = await keyAndCsr("ec-p256", { dns: [], ips: [HOST] });
  const fin = await client.post(order.finalize, { csr: pemToDer(csrPem).toString("base64url") });
  expect(fin, 200, "finalize");
  order = fin.json<Order>();
  if (order.status !== "valid") {
    order = (await pollUntil(client, orderUrl, deadline, "order", (s) => s !== "processing")).json<Order>();
  }
  if (order.status !== "valid" || !order.certificate) throw new Error(`finalized order ${order.status}`);
  const cert = await client.post(order.certificate, null);
  expect(cert, 200, "certificate");
  const pems = cert.body.toString().match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (pems < 2) throw new Error(`certificate download held ${pems} certificates`);
}

/** POST-as-GET until `done(status)`, honouring Retry-After (capped); "invalid" fails at once. */
async function pollUntil(
  client: BenchAcmeClient,
  url: string,
  deadline: number,
  what: string,
  done: (status: string) => boolean,
): Promise<HttpResult> {
  for (;;) {
    const res = await client.post(url, null);
    expect(res, 200, what);
    const status = res.json<{ status: string }>().status;
    if (done(status)) return res;
    if (status === "invalid") throw new Error(`${what} invalid: ${res.body.toString().slice(0, 200)}`);
    if (Date.now() > deadline) throw new Error(`${what} still ${status} at the deadline`);
    const after = Number(res.headers["retry-after"]);
    await delay(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, MAX_RETRY_AFTER_MS) : 50);
  }
}

function expect(res: HttpResult, status: number, what: string): void {
  if (res.status !== status) {
    let type = "";
    try {
      type = String(res.json<{ type?: string }>().type ?? "");
    } catch {
      // not JSON
    }
    throw new Error(`${what} answered ${res.status} ${type || res.body.toString().slice(0, 120)}`);
  }
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** One bounded HTTPS request over the account's keep-alive agent. */
function acmeRequest(url: string, agent: Agent, method: string, body?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> =
      body === undefined ? {} : { "content-type": "application/jose+json" };
    const req = request(url, { method, agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: b,
          json: <T>() => JSON.parse(b.toString()) as T,
        });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The test client's protocol (test/helpers/acme-client.ts), with a keep-alive agent per account,
 * request timeouts, and one retry on badNonce (RFC 8555 6.5). The JWS and the EAB are the
 * agent's own (services/agent/issuers/acme/jws.ts).
 */
class BenchAcmeClient {
  directory: Record<string, string> = {};
  accountUrl = "";
  orders = 0;
  private nonce: string | null = null;

  private constructor(
    readonly agent: Agent,
    readonly key: AccountKey,
  ) {}

  static async create(directoryUrl: string, agent: Agent): Promise<BenchAcmeClient> {
    const client = new BenchAcmeClient(agent, await accountKeyFrom(generateKey("ec-p256")));
    const res = await acmeRequest(directoryUrl, agent, "GET");
    expect(res, 200, "directory");
    client.directory = res.json<Record<string, string>>();
    return client;
  }

  url(name: string): string {
    const u = this.directory[name];
    if (!u) throw new Error(`no ${name} in the directory`);
    return u;
  }

  private async freshNonce(): Promise<string> {
    const res = await acmeRequest(this.url("newNonce"), this.agent, "HEAD");
    return String(res.headers["replay-nonce"]);
  }

  async post(url: string, payload: unknown, useJwk = false): Promise<HttpResult> {
    for (let attempt = 0; ; attempt++) {
      const nonce = this.nonce ?? (await this.freshNonce());
      this.nonce = null;
      const kid = useJwk ? undefined : this.accountUrl || undefined;
      const jws = await signRequest(this.key, { url, nonce, kid, payload });
      const res = await acmeRequest(url, this.agent, "POST", JSON.stringify(jws));
      const n = res.headers["replay-nonce"];
      if (typeof n === "string") this.nonce = n;
      if (res.status === 400 && attempt === 0 && res.body.toString().includes("badNonce")) continue;
      return res;
    }
  }

  async register(kid: string, hmac: string): Promise<void> {
    const url = this.url("newAccount");
    const eab = await externalAccountBinding(this.key.jwk, { kid, hmacKey: hmac, url });
    const res = await this.post(
      url,
      { termsOfServiceAgreed: true, contact: ["mailto:bench@x.test"], externalAccountBinding: eab },
      true,
    );
    if (res.status !== 201 && res.status !== 200) expect(res, 201, "newAccount");
    this.accountUrl = String(res.headers.location);
  }
}

async function startChallengeServer(answers: Map<string, string>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    const token = path.startsWith("/.well-known/acme-challenge/") ? (path.split("/").pop() ?? "") : "";
    const answer = answers.get(token);
    res.writeHead(answer ? 200 : 404, { "content-type": "text/plain" }).end(answer ?? "");
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, resolve);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("http-01 server has no port");
  return { server, port: address.port };
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface AcmeCa {
  baseUrl: string;
  rootPem: string;
  stop(): Promise<void>;
}

/** `serve` with --acme-http-port, in its own process group (as ca-process.ts starts it). */
async function startAcmeCa(data: string, port: number, httpPort: number): Promise<AcmeCa> {
  const logPath = join(data, `serve-${port}.log`);
  const log = await open(logPath, "a");
  let child: ChildProcess;
  try {
    const args = [
      CA_MAIN,
      "serve",
      "--data",
      data,
      "--listen",
      `${HOST}:${port}`,
      "--log-level",
      "warn",
      "--acme-http-port",
      String(httpPort),
      // the clients answer on loopback, which validation refuses unless allowed
      "--acme-validation-allow",
      "127.0.0.0/8",
    ];
    child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log.fd, log.fd] });
    await once(child, "spawn");
  } finally {
    await log.close();
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("serve did not start");
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // the group is already gone
    }
  };
  const kill = () => signal("SIGKILL");
  process.once("exit", kill);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    process.removeListener("exit", kill);
    if (!exited()) {
      const gone = once(child, "exit");
      signal("SIGTERM");
      if ((await Promise.race([gone, delay(10_000, "timeout" as const)])) === "timeout") {
        signal("SIGKILL");
        await gone;
      }
    }
    signal("SIGKILL");
  };
  const baseUrl = `https://${HOST}:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    let last = "no attempt";
    while (Date.now() < deadline) {
      if (exited()) throw new Error(`serve exited:\n${await readFile(logPath, "utf8").catch(() => "")}`);
      try {
        const rootPem = await readFile(join(data, "root.crt"), "utf8");
        const res = await httpsRequest(`${baseUrl}/healthz`, { method: "GET", ca: rootPem });
        if (res.status === 200) return { baseUrl, rootPem, stop };
        last = `healthz answered ${res.status}`;
      } catch (err) {
        last = describe(err).split("\n")[0] ?? "";
      }
      await delay(100);
    }
    throw new Error(`serve (ACME) not healthy after 60 s: ${last}`);
  } catch (err) {
    await stop();
    throw err;
  }
}
