import { availableParallelism } from "node:os";
import { createLogger } from "../../../shared/log.js";
import { canonicalIp, dnsNameProblem } from "../core/names.js";
import { caPaths, isInitialised, loadCa } from "../keys/ca.js";
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

export async function serveCommand(o: ServeOpts): Promise<void> {
  const paths = caPaths(o.data);
  const { host, port } = parseListen(o.listen);
  if (!isInitialised(paths)) await init(o);
  const passphrase = readPassphrase(o.passphraseFile);
  const ca = loadCa(paths, passphrase);
  const servingNames = chooseServingNames(o, ca.constraints);
  const log = createLogger("certyard-ca", o.logLevel);
  const publicHost = servingNames.dns[0] ?? servingNames.ips[0] ?? "localhost";
  const url = o.url ?? `https://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${port}`;
  void availableParallelism;
  const running = await startServer({ paths, passphrase, host, port, url, servingNames, log });
  process.stdout.write(
    `certyard-ca listening on https://${host.includes(":") ? `[${host}]` : host}:${running.port}\n` +
      `public URL: ${url}\n` +
      `root fingerprint: ${running.rootFingerprint}\n` +
      `admin token: ${paths.adminToken}\n`,
  );
  const stop = () => {
    running.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
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
