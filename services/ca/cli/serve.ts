import cluster from "node:cluster";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { InputError } from "../../../shared/errors.js";
import type { LogFormat } from "../../../shared/log-format.js";
import { hostPort, portNumber } from "../../../shared/port.js";
import type { ServingNames } from "../authority/serving.js";
import type { WorkerRole } from "./cluster.js";
import { announce, onSignal, type Ready } from "./lifecycle.js";
import { type DataOpts, dataPaths, readPassphrase } from "./options.js";

export interface ServeOpts extends DataOpts {
  listen: string;
  tlsDns?: string[];
  tlsIp?: string[];
  url?: string;
  name: string;
  keyType: string;
  permitDns?: string[];
  permitIp?: string[];
  passphraseFile?: string;
  workers?: string;
  logLevel: string;
  logFormat?: LogFormat;
  acmeHttpPort?: string;
  acmeTlsPort?: string;
  acmeDnsResolver?: string;
  acmeValidationAllow?: string[];
  proxyProtocolFrom?: string[];
  metricsListen?: string;
  /** --no-metrics (hidden, for the bench): count nothing */
  metrics?: boolean;
  alertWebhook?: string[];
  withoutAudit?: boolean;
  /** false (--no-crypto-thread, hidden, for the bench): CSR verify and signing on libuv's threadpool */
  cryptoThread?: boolean;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  if (!m) throw new InputError(`invalid --listen "${listen}": use HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: m[1] ?? m[2] ?? "0.0.0.0", port: portNumber("--listen", m[3] ?? "", true) };
}

/**
 * `serve`. With one worker (the default on up to three cores) it serves in-process. With more
 * (defaultWorkers), the primary stays small: it imports none of the CA. On an empty directory it
 * first runs `init` in a short-lived worker of its own (key generation and bcrypt leave a
 * process about 12 MiB bigger for good), then starts worker 0 (which issues the serving
 * certificate), then the others, which share the listening socket through node's cluster module.
 * `env` is what the entry point read from the process environment: the role a primary gave this
 * worker (null outside a cluster worker) and NODE_OPTIONS, which the workers inherit; and how
 * to restart this process with V8 flags (v8-flags.ts), for the single-process case.
 */
export async function serveCommand(
  o: ServeOpts,
  env: {
    role: WorkerRole | null;
    nodeOptions: string | undefined;
    /** this process's node flags */
    execArgv?: readonly string[];
    /** replaces this process with the same command under more node flags; absent where it cannot */
    restartWith?: (flags: string[]) => void;
  },
): Promise<void> {
  // Every flag is checked here, before an empty directory is initialised for a server that
  // would then not start.
  const { host, port } = parseListen(o.listen);
  const workers = o.workers === undefined ? defaultWorkers(availableParallelism()) : Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new InputError("--workers takes a positive integer");
  const acme = {
    httpPort: portNumber("--acme-http-port", o.acmeHttpPort ?? "80"),
    tlsPort: portNumber("--acme-tls-port", o.acmeTlsPort ?? "443"),
    dnsResolver: o.acmeDnsResolver === undefined ? undefined : resolverFlag(o.acmeDnsResolver),
    allow: await validationAllowFlag(o.acmeValidationAllow ?? []),
  };
  const proxyProtocolFrom = await cidrList("--proxy-protocol-from", o.proxyProtocolFrom ?? []);
  const metricsListen =
    o.metricsListen === undefined
      ? undefined
      : hostPort("--metrics-listen", o.metricsListen, "127.0.0.1:9464", true);
  const { parseWebhook } = await import("../alerts/webhook.js");
  const alertWebhooks = (o.alertWebhook ?? []).map(parseWebhook);
  const givenNames = await givenServingNames(o);
  const paths = dataPaths(o);
  if (env.role === null && workers > 1) {
    const { runPrimary } = await import("./cluster.js");
    const { isInitialised } = await import("../keys/paths.js");
    return runPrimary(workers, host, announce, {
      initFirst: !isInitialised(paths),
      nodeOptions: env.nodeOptions,
      metrics: metricsListen
        ? async (exposition) => {
            const listener = await startMetricsListener(metricsListen, exposition);
            return { url: metricsUrl(metricsListen.host, listener.port), close: listener.close };
          }
        : undefined,
    });
  }
  if (env.role === null && env.restartWith) {
    // One process serving: V8's heap settings can only be given at start, so it replaces itself
    // (same pid, process.execve) with one that has them; that one finds them and goes on.
    const { missingServeFlags } = await import("./v8-flags.js");
    const flags = missingServeFlags(env.execArgv ?? [], env.nodeOptions);
    if (flags.length > 0) env.restartWith(flags);
  }
  if (env.role?.kind === "init") {
    const { init } = await import("./init.js");
    await init(o);
    cluster.worker?.disconnect();
    return;
  }
  const first = (env.role?.index ?? 0) === 0;
  const { isInitialised } = await import("../keys/paths.js");
  if (first && !isInitialised(paths)) {
    if (env.role === null) {
      // One process serving: init runs in a short-lived worker all the same (cluster.ts), so
      // the serving process does not keep what key generation and bcrypt left (about 12 MiB).
      const { initInWorker } = await import("./cluster.js");
      const code = await initInWorker();
      if (code !== 0) process.exit(code);
    } else {
      const { init } = await import("./init.js");
      await init(o);
    }
  }
  const { createLogger } = await import("../../../shared/log.js");
  const { startServer } = await import("../server.js");
  const running = await startServer({
    paths,
    passphrase: readPassphrase(o.passphraseFile),
    host,
    port,
    url: o.url,
    servingNames: givenNames ?? undefined,
    log: createLogger("certyard-ca", o.logLevel, o.logFormat),
    issuesServingCert: first,
    acme,
    proxyProtocolFrom,
    clusterWorker: env.role !== null,
    countMetrics: o.metrics ?? true,
    alertWebhooks,
    audit: !o.withoutAudit,
    cryptoThread: o.cryptoThread ?? true,
  }).catch((err: unknown) => {
    throw listenError(err, host, port);
  });
  const metrics =
    metricsListen && env.role === null
      ? await startMetricsListener(metricsListen, running.metricsExposition)
      : null;
  onSignal(async () => {
    await metrics?.close();
    await running.close();
  });
  const ready: Ready = {
    host,
    port: running.port,
    url: running.url,
    urlGuessed: running.urlGuessed,
    fingerprint: running.rootFingerprint,
    tokenPath: paths.adminToken,
    metricsUrl: metrics ? metricsUrl(metricsListen?.host ?? "", metrics.port) : undefined,
  };
  if (env.role !== null) process.send?.({ type: "ready", ...ready });
  else announce(ready);
}

/**
 * One process per two cores, at least one and at most four. A process keeps about two cores
 * busy on the sign path: its event loop (TLS, HTTP, SQLite) and libuv's threadpool, where the
 * CSR's signature is verified and the certificate signed. So a 2-core host runs one process,
 * no cluster: measured here on node 24, about 62 MiB PSS idle after start against 105-113 MiB
 * for a primary and two workers, for about a fifth less req/s than two workers (README,
 * "Processes and memory"). Beyond four, the one SQLite writer is the limit, not the cores.
 */
export function defaultWorkers(cores: number): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

/** --metrics-listen: GET /metrics over plain HTTP there (a cluster's primary runs it for the tree). */
export async function startMetricsListener(
  at: { host: string; port: number },
  exposition: () => Promise<string>,
) {
  const { listenForMetrics } = await import("../metrics/listen.js");
  return listenForMetrics(at.host, at.port, exposition, (err) =>
    process.stderr.write(`certyard-ca: metrics: ${err instanceof Error ? err.message : String(err)}\n`),
  ).catch((err: unknown) => {
    throw listenError(err, at.host, at.port, "--metrics-listen: ");
  });
}

export const metricsUrl = (host: string, port: number) =>
  `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`;

/** What a failed listen means, for the errors a person can act on. */
function listenError(err: unknown, host: string, port: number, prefix = ""): unknown {
  const where = `${prefix}cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case "EADDRINUSE":
      return new Error(`${where}: the address is already in use`);
    case "EACCES":
      return new Error(`${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
    case "EADDRNOTAVAIL":
      return new Error(`${where}: this host has no such address`);
    default:
      return err;
  }
}

/** The --tls-* names, checked; null when none are given (the defaults then come from the CA). */
async function givenServingNames(o: ServeOpts): Promise<ServingNames | null> {
  if (!o.tlsDns?.length && !o.tlsIp?.length) return null;
  const { canonicalIp } = await import("../core/names.js");
  const { dnsNameProblem } = await import("../../../shared/dns-name.js");
  const dns = (o.tlsDns ?? []).map((d) => {
    const problem = dnsNameProblem(d);
    if (problem) throw new InputError(`--tls-dns: ${problem}`);
    return d.toLowerCase();
  });
  const ips = (o.tlsIp ?? []).map((ip) => {
    try {
      return canonicalIp(ip);
    } catch {
      throw new InputError(`--tls-ip: "${ip}" is not an IP address`);
    }
  });
  return { dns, ips };
}

/** --acme-validation-allow: addresses or CIDRs, IPv4 or IPv6. */
const validationAllowFlag = (list: string[]) => cidrList("--acme-validation-allow", list);

/** A repeatable flag of addresses or CIDRs, IPv4 or IPv6, each checked. */
async function cidrList(flagName: string, list: string[]): Promise<string[]> {
  const { parseIpRange, formatIpRange } = await import("../core/names.js");
  return list.map((text) => {
    try {
      return formatIpRange(parseIpRange(text));
    } catch {
      throw new InputError(`invalid ${flagName} "${text}": use an IP address or CIDR, e.g. 127.0.0.0/8`);
    }
  });
}

/** --acme-dns-resolver: an IP address and an optional port (53), as node's resolver takes it. */
export function resolverFlag(text: string): string {
  const t = text.trim();
  const m = isIP(t) ? null : /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(t);
  const address = m ? (m[1] ?? m[2] ?? "") : t;
  const port = m ? portNumber("--acme-dns-resolver", m[3] ?? "") : 53;
  if (!isIP(address)) {
    throw new InputError(`invalid --acme-dns-resolver "${text}": use IP or IP:PORT, e.g. 10.0.0.2:53`);
  }
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
