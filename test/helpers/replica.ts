/**
 * One CA replica as a process of its own, for tests that kill it (kill -9): the real startServer
 * on `DATA` and the SQLite file `DB`, with leases and periodic work shortened so that a takeover
 * shows within seconds. Prints one JSON line `{ port, holder }` once it listens; logs JSON to stderr.
 * Usage: node replica.js DATA DB [OPTIONS] (DB: a SQLite file, or a postgres:// URL; OPTIONS: JSON
 * `{ "port": N, "acmeLimits": {...} }`, a fixed port, which the public URL then names, and ACME
 * limits for tests of them)
 */
import type { AcmeLimits } from "../../services/ca/acme/limits.js";
import { caPaths } from "../../services/ca/keys/paths.js";
import { startServer } from "../../services/ca/server.js";
import { parseDbUrl } from "../../services/ca/store/db-url.js";
import { createLogger } from "../../shared/log.js";

const [data, db, options] = process.argv.slice(2);
if (!data || !db) throw new Error("usage: replica.js DATA DB [OPTIONS]");
const o = JSON.parse(options ?? "{}") as { port?: number; acmeLimits?: Partial<AcmeLimits> };
const running = await startServer({
  paths: caPaths(data, parseDbUrl(/^postgres(ql)?:/.test(db) ? db : `sqlite:${db}`, data)),
  host: "127.0.0.1",
  port: o.port ?? 0,
  ...(o.port ? { url: `https://127.0.0.1:${o.port}` } : {}),
  ...(o.acmeLimits ? { acme: { limits: o.acmeLimits } } : {}),
  servingNames: { dns: ["localhost"], ips: ["127.0.0.1"] },
  log: createLogger("certyard-ca", "debug", "json"),
  servingCheckMs: 200,
  leaseTimes: { ttlMs: 1_500, renewMs: 300 },
});
process.stdout.write(`${JSON.stringify({ port: running.port, holder: running.leaseHolder })}\n`);
process.once("SIGTERM", () => {
  void running.close().then(() => process.exit(0));
});
