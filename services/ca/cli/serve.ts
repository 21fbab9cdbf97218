import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../../shared/fs.js";
import { createLogger, type Logger } from "../../../shared/log.js";
import { canonicalIp, dnsNameProblem } from "../core/names.js";
import { type CaPaths, caPaths, isInitialised, loadCa } from "../keys/ca.js";
import { startServer } from "../server.js";
import { defaultServingNames, type ServingNames } from "../serving.js";
import { init } from "./init.js";
import { readPassphrase } from "./options.js";

export interface ServeOpts {
  data: string;
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
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid --listen "${listen}": use HOST:PORT, e.g. 0.0.0.0:8443`);
  }
  return { host: m[1] ?? m[2] ?? "0.0.0.0", port };
}

/**
 * `serve`: the primary process initialises the data directory and makes sure a serving
 * certificate exists, then runs one worker per core (node's cluster shares the listening
 * socket), so both cores issue. With one worker it serves in-process.
 */
export async function serveCommand(o: ServeOpts): Promise<void> {
  const paths = caPaths(o.data);
  const { host, port } = parseListen(o.listen);
  const workers = o.workers === undefined ? availableParallelism() : Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError("--workers takes a positive integer");
  const log = createLogger("certyard-ca", o.logLevel);

  if (cluster.isWorker) {
    const index = Number(process.env.CERTYARD_WORKER_INDEX ?? "0");
    await runServer(o, paths, host, port, log, index === 0);
    return;
  }
  if (!isInitialised(paths)) await init(o);
  const passphrase = readPassphrase(o.passphraseFile);
  const ca = loadCa(paths, passphrase);
  const servingNames = chooseServingNames(o, ca.constraints);
  const url = publicUrl(o, servingNames, port);
  // `token create --join` reads the public URL from here.
  writeFileAtomic(join(paths.dataDir, "serve.json"), `${JSON.stringify({ url }, null, 2)}\n`);
  if (workers === 1) {
    const running = await runServer(o, paths, host, port, log, true);
    announce(host, running.port, url, running.rootFingerprint, paths.adminToken);
    onSignal(() => running.close());
    return;
  }
  await prepareServingCert(paths, passphrase, servingNames, url);
  const listening = await forkWorkers(workers, log);
  announce(host, listening, url, ca.rootFingerprint, paths.adminToken);
}

async function runServer(
  o: ServeOpts,
  paths: CaPaths,
  host: string,
  port: number,
  log: Logger,
  issuer: boolean,
) {
  const passphrase = readPassphrase(o.passphraseFile);
  const ca = loadCa(paths, passphrase);
  const servingNames = chooseServingNames(o, ca.constraints);
  const url = publicUrl(o, servingNames, port);
  const running = await startServer({
    paths,
    passphrase,
    host,
    port,
    url,
    servingNames,
    log,
    issuesServingCert: issuer,
  });
  if (cluster.isWorker) onSignal(() => running.close());
  return running;
}

/** Issues the serving certificate in the primary, so workers start with one on disk. */
async function prepareServingCert(
  paths: CaPaths,
  passphrase: string | undefined,
  names: ServingNames,
  url: string,
) {
  const { openStore } = await import("../store/index.js");
  const { Authority } = await import("../authority.js");
  const { ensureServingCert } = await import("../serving.js");
  const store = openStore(paths.database);
  try {
    const authority = new Authority(loadCa(paths, passphrase), store, `${url}/crl`);
    await ensureServingCert(authority, paths.dataDir, names, Date.now());
  } finally {
    store.close();
  }
}

function forkWorkers(n: number, log: Logger): Promise<number> {
  let stopping = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ CERTYARD_WORKER_INDEX: String(index) });
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      log.error({ index, code, signal }, "worker exited; starting another");
      fork(index);
    });
    return worker;
  };
  onSignal(async () => {
    stopping = true;
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.isDead()) return resolve();
            w.once("exit", () => resolve());
            w.process.kill("SIGTERM");
          }),
      ),
    );
  });
  return new Promise((resolve, reject) => {
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const w = fork(i);
      w.once("listening", (address) => {
        if (++ready === n) resolve(address.port);
      });
      w.once("exit", (code) => {
        if (ready < n) reject(new Error(`a worker exited with code ${code} before listening; see the log`));
      });
    }
  });
}

function publicUrl(o: ServeOpts, names: ServingNames, port: number): string {
  if (o.url) return o.url.replace(/\/$/, "");
  const publicHost = names.dns[0] ?? names.ips[0] ?? "localhost";
  return `https://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${port}`;
}

function announce(host: string, port: number, url: string, fingerprint: string, tokenPath: string): void {
  process.stdout.write(
    `certyard-ca listening on https://${host.includes(":") ? `[${host}]` : host}:${port}\n` +
      `public URL: ${url}\n` +
      `root fingerprint: ${fingerprint}\n` +
      `admin token: ${tokenPath}\n`,
  );
}

function onSignal(stop: () => Promise<void>): void {
  const handler = () => {
    stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", handler);
  process.once("SIGINT", handler);
}

function chooseServingNames(
  o: ServeOpts,
  constraints: Parameters<typeof defaultServingNames>[0],
): ServingNames {
  if (!o.tlsDns?.length && !o.tlsIp?.length) return defaultServingNames(constraints);
  const dns = (o.tlsDns ?? []).map((d) => {
    const problem = dnsNameProblem(d);
    if (problem) throw new RangeError(`--tls-dns: ${problem}`);
    return d.toLowerCase();
  });
  return { dns, ips: (o.tlsIp ?? []).map(canonicalIp) };
}
