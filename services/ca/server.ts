import { existsSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "../../shared/log.js";
import type { AcmeLimits } from "./acme/limits.js";
import type { ValidationConfig } from "./acme/validate/index.js";
import { Authority } from "./authority.js";
import { CrlPublisher } from "./crl.js";
import { createApp } from "./http/app.js";
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  limitConnections,
  serverOptions,
} from "./http/connections.js";
import type { AppDeps } from "./http/context.js";
import { isSignRequest, signHandler } from "./http/sign.js";
import { type CaPaths, loadCa } from "./keys/ca.js";
import { ensureServingCert, type ServingNames } from "./serving.js";
import { openStore } from "./store/index.js";
import { tokenService } from "./tokens/service.js";
import { tokenVerifier } from "./tokens/verifier.js";

export interface ServeConfig {
  paths: CaPaths;
  passphrase?: string;
  host: string;
  port: number;
  /** public base URL, for the CRL distribution point */
  url: string;
  servingNames: ServingNames;
  log: Logger;
  /** the CA's notion of now; tests move it forward to see certificates expire */
  clock?: () => number;
  /** whether this process issues the serving certificate when it is due (the first worker does) */
  issuesServingCert?: boolean;
  servingCheckMs?: number;
  /** where ACME challenge validation connects (--acme-*), and limits for tests */
  acme?: Partial<ValidationConfig> & { limits?: Partial<AcmeLimits> };
  /** connection timeouts and cap; tests shorten them */
  connections?: Partial<ConnectionLimits>;
}

export interface RunningServer {
  server: Server;
  port: number;
  rootFingerprint: string;
  close(): Promise<void>;
}

/** Builds the parts in order (store, CA, authority, app) and serves them over HTTPS. */
export async function startServer(cfg: ServeConfig): Promise<RunningServer> {
  const store = openStore(cfg.paths.database);
  const ca = loadCa(cfg.paths, cfg.passphrase);
  const clock = cfg.clock ?? Date.now;
  const authority = new Authority(ca, store, `${cfg.url.replace(/\/$/, "")}/crl`, clock);
  const crl = new CrlPublisher(ca, store, clock);
  const tokens = tokenService(store.tokens, clock);
  // A lost admin-token file is replaced at start (the old token stops working).
  if (!existsSync(cfg.paths.adminToken)) tokens.resetAdmin(cfg.paths.adminToken);

  let serving = await ensureServingCert(
    authority,
    cfg.paths.dataDir,
    cfg.servingNames,
    clock(),
    cfg.issuesServingCert ?? true,
  );
  const appDeps: AppDeps = {
    authority,
    crl,
    // Enrol tokens serve only POST /v1/sign, whose issuing transaction consumes them.
    verifyToken: tokenVerifier(
      { record: (id) => store.tokens.byId(id), state: (id) => store.tokens.state(id) },
      { deferStateFor: ["enrol"] },
    ),
    tokenState: (id) => store.tokens.state(id),
    createToken: (req) => tokens.create(req),
    listCertificates: (opts) => store.certificates.list(opts),
    health: () => store.ping(),
    rootPem: ca.rootPem,
    rootFingerprint: ca.rootFingerprint,
    log: cfg.log,
    clock,
  };
  const app = createApp(appDeps, async () => {
    const [{ acmeDomain, DEFAULT_LIMITS }, { challengeValidator }] = await Promise.all([
      import("./acme/index.js"),
      import("./acme/validate/index.js"),
    ]);
    const acme = acmeDomain({
      store: store.acme,
      issuer: authority,
      validate: challengeValidator({
        httpPort: cfg.acme?.httpPort ?? 80,
        tlsPort: cfg.acme?.tlsPort ?? 443,
        dnsResolver: cfg.acme?.dnsResolver,
      }),
      clock,
      log: cfg.log,
      limits: { ...DEFAULT_LIMITS, ...cfg.acme?.limits },
    });
    return { acme, log: cfg.log };
  });

  const honoListener = getRequestListener(app.fetch, { hostname: cfg.host });
  const sign = signHandler(appDeps);
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...cfg.connections };
  const server = createServer(
    {
      key: serving.keyPem,
      cert: serving.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      ...serverOptions(limits),
    },
    (req, res) => (isSignRequest(req) ? sign(req, res) : honoListener(req, res)),
  );
  limitConnections(server, limits, cfg.log);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : cfg.port;

  // Housekeeping: the serving certificate renews itself at two thirds of its life, without a
  // restart. In a cluster only the first worker issues; the others load what it stored.
  const mayIssue = cfg.issuesServingCert ?? true;
  const timer = setInterval(async () => {
    try {
      const next = await ensureServingCert(authority, cfg.paths.dataDir, cfg.servingNames, clock(), mayIssue);
      if (next.serial === serving.serial) return;
      serving = next;
      server.setSecureContext({ key: serving.keyPem, cert: serving.certPem });
      cfg.log.info({ serial: serving.serial }, "serving certificate renewed");
    } catch (err) {
      cfg.log.error({ err }, "serving certificate renewal failed");
    }
    // The CRL is remade well before its nextUpdate even when nobody asks for it.
    if (mayIssue) await crl.current().catch((err) => cfg.log.error({ err }, "CRL refresh failed"));
  }, cfg.servingCheckMs ?? 600_000);
  timer.unref();

  return {
    server,
    port,
    rootFingerprint: ca.rootFingerprint,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
