import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { writeFileAtomic } from "../../shared/fs.js";
import type { Logger } from "../../shared/log.js";
import { eabService } from "./acme/eabs.js";
import { type AcmeLimits, DEFAULT_LIMITS } from "./acme/limits.js";
import type { ValidationConfig } from "./acme/validate/index.js";
import { caTimes, startAlerts } from "./alerts/start.js";
import type { RetryPolicy, Webhook } from "./alerts/webhook.js";
import { failureAudit } from "./audit/failures.js";
import { auditService } from "./audit/service.js";
import { Authority } from "./authority/authority.js";
import { certificateService } from "./authority/certificates.js";
import { CrlPublisher } from "./authority/crl.js";
import { hostService } from "./authority/hosts.js";
import {
  defaultServingNames,
  ensureServingCert,
  publicUrl,
  type ServingNames,
  withUrlHost,
} from "./authority/serving.js";
import { threadpoolSigner } from "./authority/signer.js";
import { threadSigner } from "./authority/signer-thread.js";
import { ipMatcher, parseIpRange } from "./core/names.js";
import { startHousekeeping } from "./housekeeping.js";
import { requestListener } from "./http/app.js";
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  limitConnections,
  listenOptions,
  serverOptions,
} from "./http/connections.js";
import type { AppDeps } from "./http/context.js";
import { collectWhenIdle } from "./http/idle-memory.js";
import { proxyProtocolFront } from "./http/proxy-protocol.js";
import type { UiDeps } from "./http/ui/deps.js";
import { type CaPaths, loadCa } from "./keys/ca.js";
import { crlNumberFile } from "./keys/crl-number.js";
import { secureDataDir } from "./keys/paths.js";
import { type LeaseTimes, leaseRunner } from "./leases/runner.js";
import { caMetrics } from "./metrics/registry.js";
import { caGaugeSource } from "./metrics/source.js";
import { tokenKeyOf } from "./parts.js";
import { storageHealth } from "./store/health.js";
import { openStoreAt } from "./store/open.js";
import { adminTokenAtStart } from "./tokens/admin.js";
import { authFailures } from "./tokens/failures.js";
import { tokenService } from "./tokens/service.js";
import { tokenVerifier } from "./tokens/verifier.js";
import { uiParts } from "./ui-parts.js";

export interface ServeConfig {
  paths: CaPaths;
  passphrase?: string;
  host: string;
  port: number;
  /** public base URL (--url), for the CRL distribution point; default: from the serving names */
  url?: string;
  /** names of the serving certificate (--tls-*); default: this host's, within the constraints */
  servingNames?: ServingNames;
  log: Logger;
  /** the CA's notion of now; tests move it forward to see certificates expire */
  clock?: () => number;
  /**
   * whether this process issues the serving certificate when it is due and records the public
   * URL in serve.json for `token create --join` (the first worker does)
   */
  issuesServingCert?: boolean;
  servingCheckMs?: number;
  /** how often serve looks whether `certyard-ca rotate` changed the CA (ca.json); tests shorten it */
  rotationCheckMs?: number;
  /** where ACME challenge validation connects (--acme-*), and limits for tests */
  acme?: Partial<ValidationConfig> & { limits?: Partial<AcmeLimits> };
  /** failed token authentications per client address before 429 (FAILED_AUTH_LIMIT); tests raise it */
  failedAuth?: { limit: number; windowMs: number };
  /** connection timeouts and cap; tests shorten them */
  connections?: Partial<ConnectionLimits>;
  /**
   * addresses and CIDRs (--proxy-protocol-from) whose connections begin with a PROXY header
   * (a TCP load balancer's), which gives the client's address (http/proxy-protocol.ts)
   */
  proxyProtocolFrom?: string[];
  /**
   * a cluster worker: GET /metrics asks the primary for the whole tree's series (metrics/cluster.ts)
   * instead of writing this process's own
   */
  clusterWorker?: boolean;
  /** false: nothing is counted (the bench's "metrics off"); GET /metrics still answers */
  countMetrics?: boolean;
  /** serve --alert-webhook: where alerts are posted; none: no alert checks */
  alertWebhooks?: Webhook[];
  /** how often the alert conditions are checked (default a minute); tests shorten it and the retries */
  alertCheckMs?: number;
  alertRetry?: RetryPolicy;
  /**
   * CSR verification and certificate signing run in one worker thread of their own
   * (signer-thread.ts) unless this is false (serve --no-crypto-thread, for the bench): then on
   * the event loop and libuv's threadpool
   */
  cryptoThread?: boolean;
  /** false: no audit events (serve --no-audit, for benchmarks that compare) */
  audit?: boolean;
  /** how long leases on periodic work last and how often they are renewed (LEASE_TIMES); tests shorten them */
  leaseTimes?: LeaseTimes;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  /** no --url was given: the URL is serve's guess, which the operator should check */
  urlGuessed: boolean;
  /** this process's name as a holder of leases on periodic work (leases/runner.ts) */
  leaseHolder: string;
  rootFingerprint: string;
  /** the Prometheus exposition GET /metrics serves (of the whole tree in a cluster worker) */
  metricsExposition(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The CA's composition root. Every front end gets its parts from here: `serve` from startServer,
 * the CLI's commands from openParts. Nothing else builds the store, the authority or the
 * services, and none of them reads configuration of its own.
 */

/** Builds the parts in order (store, CA, authority, app) and serves them over HTTPS. */
export async function startServer(cfg: ServeConfig): Promise<RunningServer> {
  secureDataDir(cfg.paths);
  const store = await openStoreAt(cfg.paths.db, { audit: cfg.audit ?? true, serve: true });
  const ca = loadCa(cfg.paths, cfg.passphrase);
  const clock = cfg.clock ?? Date.now;
  const names = cfg.servingNames ?? defaultServingNames(ca.constraints);
  const { url, guessed } = await publicUrl(cfg.url, names, cfg.port);
  const servingNames = withUrlHost(names, url);
  const signer =
    cfg.cryptoThread !== false
      ? threadSigner((code, err) =>
          cfg.log.error({ err, code }, "the crypto thread stopped; the next request starts another"),
        )
      : threadpoolSigner();
  const authority = new Authority(ca, store, `${url}${ca.crlPath}`, clock, signer);
  const crl = new CrlPublisher(ca, store, crlNumberFile(cfg.paths.crlNumber), clock);
  const tokenKey = await tokenKeyOf(cfg.paths, store);
  const tokens = tokenService(store.tokens, clock, async () => tokenKey);
  // A lost admin-token file is replaced at start (the old token stops working), unless other
  // replicas on the database may hold the token (tokens/admin.ts).
  await adminTokenAtStart(cfg.paths, tokens);

  const serving = await ensureServingCert(
    authority,
    cfg.paths.dataDir,
    servingNames,
    clock(),
    cfg.issuesServingCert ?? true,
  );
  const storage = storageHealth(cfg.paths.dataDir, clock);
  // Periodic work that one replica on the database does for all: leases.runUnderLease(name, fn).
  const leases = leaseRunner(store.leases, cfg.log, { times: cfg.leaseTimes });
  let current = ca;
  const hosts = hostService(store.hosts, clock);
  const metrics = caMetrics(
    caGaugeSource(
      store,
      () => current,
      () => hosts.withNewest(),
    ),
    clock,
  );
  const counting = cfg.countMetrics ?? true;
  if (counting) authority.onIssued = metrics.issued;
  const metricsExposition = cfg.clusterWorker
    ? (await import("./metrics/cluster.js")).workerExposition(metrics.registry)
    : () => metrics.registry.metrics();
  // failed authentications go to the audit trail one event per address and window, counted in
  // the database by every process; those a stopped CA left are written now if due
  const failures = failureAudit(
    store.failureTallies,
    (err) => cfg.log.error({ err }, "writing failed authentications to the audit trail failed"),
    cfg.failedAuth?.windowMs,
  );
  await failures.sweep(clock());
  const ui = uiParts(store, {
    tokens,
    eabs: eabService(store.acme.eabs, clock),
    audit: auditService(store.audit, clock),
    authority,
    url,
  });
  const appDeps: AppDeps & { ui: UiDeps } = {
    ui,
    authority,
    crl,
    // Enrol tokens serve only POST /v1/sign, whose issuing transaction consumes them.
    verifyToken: tokenVerifier(
      { record: (id) => store.tokens.byId(id), state: (id) => store.tokens.state(id) },
      tokenKey,
      { deferStateFor: ["enrol"] },
    ),
    // counted in the database: every replica on it counts a client's failures together
    authFailures: authFailures(
      cfg.log,
      cfg.failedAuth,
      counting ? metrics.authFailure : undefined,
      store.authFailures,
      failures,
    ),
    tokenState: (id) => store.tokens.state(id),
    createToken: (req, actor) => tokens.create(req, actor),
    certificates: certificateService(store.certificates, clock, (t) => store.tokens.idOf(t)),
    hosts,
    health: () => store.ping(),
    storage,
    rootPem: ca.rootPem,
    rootsPem: ca.rootsPem,
    crossPem: ca.crossPem,
    rootFingerprint: ca.rootFingerprint,
    metrics: { request: counting ? metrics.request : () => {}, exposition: metricsExposition },
    log: cfg.log,
    clock,
  };
  const acmeLimits = { ...DEFAULT_LIMITS, ...cfg.acme?.limits };
  const listener = requestListener(appDeps, cfg.host, async () => {
    const [{ acmeDomain, nonceKey }, validation, { accountKeyCache }] = await Promise.all([
      import("./acme/index.js"),
      import("./acme/validate/index.js"),
      import("./http/acme/account-keys.js"),
    ]);
    const acme = acmeDomain({
      store: store.acme,
      issuer: authority,
      validate: validation.challengeValidator({
        httpPort: cfg.acme?.httpPort ?? 80,
        tlsPort: cfg.acme?.tlsPort ?? 443,
        dnsResolver: cfg.acme?.dnsResolver,
        allow: cfg.acme?.allow,
        ownAddresses: await validation.listenAddresses(cfg.host, validation.thisMachine),
        log: cfg.log,
      }),
      nonceKey: nonceKey(ca.intermediateKey),
      clock,
      log: cfg.log,
      limits: acmeLimits,
    });
    return { acme, accountKeys: accountKeyCache(), log: cfg.log, storage };
  });

  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...cfg.connections };
  const server = createServer(
    {
      key: serving.keyPem,
      cert: serving.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      ...serverOptions(limits),
    },
    listener,
  );
  limitConnections(server, limits, cfg.log);
  const idle = collectWhenIdle(
    server,
    (c) => cfg.log.debug(c, "idle: garbage collected"),
    undefined,
    () => signer.rest(),
  );
  // Behind a TCP balancer that sends the PROXY protocol, a plain listener takes its header off first.
  const front = cfg.proxyProtocolFrom?.length
    ? proxyProtocolFront(server, ipMatcher(cfg.proxyProtocolFrom.map(parseIpRange)), {
        timeoutMs: limits.handshakeTimeoutMs,
        log: cfg.log,
      })
    : null;
  if (front) front.maxConnections = limits.maxConnections;
  const listening = front ?? server;
  await new Promise<void>((resolve, reject) => {
    listening.once("error", reject);
    listening.listen(listenOptions(cfg.port, cfg.host), () => {
      listening.off("error", reject);
      resolve();
    });
  });
  // the serving certificate's issuance started the crypto thread: an idle serve gives its memory
  // back until the first request (about 13 MiB PSS)
  signer.rest();
  const address = listening.address();
  const port = typeof address === "object" && address ? address.port : cfg.port;
  const mayIssue = cfg.issuesServingCert ?? true;
  // `token create --join` reads the public URL from here: written once the server listens.
  if (mayIssue)
    writeFileAtomic(join(cfg.paths.dataDir, "serve.json"), `${JSON.stringify({ url }, null, 2)}\n`);

  const housekeeping = startHousekeeping({
    paths: cfg.paths,
    passphrase: cfg.passphrase,
    log: cfg.log,
    clock,
    authority,
    crl,
    store,
    leases,
    failures,
    servingNames,
    mayIssue,
    serving,
    useServing: (next) => server.setSecureContext({ key: next.keyPem, cert: next.certPem }),
    rotated: (next) => {
      current = next;
      authority.use(next, `${url}${next.crlPath}`);
      crl.use(next);
      Object.assign(appDeps, {
        rootPem: next.rootPem,
        rootFingerprint: next.rootFingerprint,
        rootsPem: next.rootsPem,
        crossPem: next.crossPem,
      });
    },
    servingCheckMs: cfg.servingCheckMs,
    rotationCheckMs: cfg.rotationCheckMs,
    nonceSweepMs: acmeLimits.nonceSweepMs,
  });
  // Alerts: checked by the first worker of the replica holding the "alerts" lease; their state
  // is in the database, so a restart or another replica does not send one twice.
  const alerts =
    mayIssue && cfg.alertWebhooks?.length
      ? await startAlerts(
          {
            webhooks: cfg.alertWebhooks,
            log: cfg.log,
            retry: cfg.alertRetry,
            checkMs: cfg.alertCheckMs,
            runUnderLease: (name, fn) => leases.runUnderLease(name, fn),
          },
          {
            store: store.hosts,
            hosts: () => hosts.withNewest(),
            caTimes: async () => caTimes(appDeps.rootPem, authority.chainPem, await store.crls.latest()),
            clock,
            caUrl: url,
          },
        )
      : null;

  return {
    server,
    port,
    url,
    urlGuessed: guessed,
    leaseHolder: leases.holder,
    rootFingerprint: ca.rootFingerprint,
    metricsExposition,
    close: () =>
      new Promise<void>((resolve) => {
        front?.close();
        alerts?.stop();
        idle.stop();
        server.close(() => {
          // periodic runs going on end before the store they use closes
          void housekeeping
            .stop()
            .then(() => failures.sweep(clock()))
            .finally(() => {
              void leases
                .close()
                .then(() => store.close())
                .finally(() => signer.close())
                .then(resolve, resolve);
            });
        });
        server.closeAllConnections();
      }),
  };
}
