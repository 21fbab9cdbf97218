import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../shared/log.js";
import { every } from "../../shared/periodic.js";
import type { FailureAudit } from "./audit/failures.js";
import type { Authority } from "./authority/authority.js";
import type { CrlPublisher } from "./authority/crl.js";
import { ensureServingCert, type ServingCert, type ServingNames } from "./authority/serving.js";
import { renewServing } from "./authority/serving-renewal.js";
import { SESSION_IDLE_MS } from "./http/ui/session.js";
import { type CaMaterial, type CaPaths, loadCa } from "./keys/ca.js";
import type { LeaseRunner } from "./leases/runner.js";
import type { StorePorts } from "./store/ports.js";

export interface HousekeepingParts {
  paths: CaPaths;
  passphrase?: string;
  log: Logger;
  clock: () => number;
  authority: Authority;
  crl: CrlPublisher;
  store: Pick<StorePorts, "acme" | "sessions">;
  leases: LeaseRunner;
  failures: FailureAudit;
  servingNames: ServingNames;
  /** this process issues the serving certificate when due (a cluster's later workers do not) */
  mayIssue: boolean;
  /** the serving certificate the server presents now */
  serving: ServingCert;
  /** puts another serving certificate to use (the server's TLS context) */
  useServing(cert: ServingCert): void;
  /** a rotated CA was loaded: the authority, the CRL and the app issue and serve from it */
  rotated(next: CaMaterial): void;
  /** how often the serving certificate is looked at (default 10 min) */
  servingCheckMs?: number;
  /** how often ca.json is looked at for a rotation (default 5 s) */
  rotationCheckMs?: number;
  /** how often used ACME nonces and ended dashboard sessions are swept */
  nonceSweepMs: number;
}

/**
 * serve's periodic work, each kind one run at a time (shared/periodic.ts): the serving
 * certificate's renewal and the CRL's refresh, taking up a rotated CA, and sweeping what has
 * ended. stop() ends the turns and waits for runs going on, so the store can then be closed.
 */
export function startHousekeeping(h: HousekeepingParts): { stop(): Promise<void> } {
  let serving = h.serving;
  const put = (cert: ServingCert) => {
    serving = cert;
    h.useServing(cert);
  };
  const failed = (what: string) => (err: unknown) => h.log.error({ err }, what);

  // The serving certificate renews itself at two thirds of its life, without a restart, by the
  // replica holding its lease when replicas share it; in a cluster only the first worker
  // issues. The others load what was stored (authority/serving-renewal.ts).
  const renewals = every(
    h.servingCheckMs ?? 600_000,
    async () => {
      const renewed = await renewServing(
        {
          authority: h.authority,
          dataDir: h.paths.dataDir,
          names: h.servingNames,
          now: h.clock(),
          mayIssue: h.mayIssue,
          log: h.log,
        },
        serving,
        h.leases.runUnderLease,
        h.useServing,
      ).catch((err) => {
        h.log.error({ err }, "serving certificate renewal failed");
        return null;
      });
      if (renewed) serving = renewed;
      // The CRL is remade well before its nextUpdate even when nobody asks for it, by the
      // replica holding the lease.
      await h.leases
        .runUnderLease("crl-refresh", async () => {
          await h.crl.current();
        })
        .catch(failed("CRL refresh failed"));
    },
    failed("serving certificate renewal failed"),
  );

  // A rotation (certyard-ca rotate) is taken up without a restart. ca.json is the last file a
  // rotation moves into place, and the rotation holds the data lock until it has loaded the new
  // CA itself, so a changed ca.json and no lock mean a whole new CA.
  let caJson = readFileSync(h.paths.config, "utf8");
  const rotations = every(
    h.rotationCheckMs ?? 5_000,
    async () => {
      // a worker that does not issue takes up the TLS certificate the first worker issued
      if (!h.mayIssue && !h.authority.issuedByCurrent(serving.certPem)) {
        const stored = await ensureServingCert(
          h.authority,
          h.paths.dataDir,
          h.servingNames,
          h.clock(),
          false,
        );
        if (stored.serial !== serving.serial) put(stored);
      }
      const now = readFileSync(h.paths.config, "utf8");
      if (now === caJson || existsSync(join(h.paths.dataDir, ".lock"))) return;
      const next = loadCa(h.paths, h.passphrase);
      caJson = now;
      h.rotated(next);
      put(await ensureServingCert(h.authority, h.paths.dataDir, h.servingNames, h.clock(), h.mayIssue));
      h.log.info(
        { intermediate: next.intermediate.serialNumber, root: next.rootFingerprint },
        "the CA was rotated: issuing from the new intermediate",
      );
    },
    failed("taking up the rotated CA failed; restart serve"),
  );

  // Used nonces are remembered only while their nonce could still be presented (acme/nonces.ts);
  // ended dashboard sessions go too (one presented after its end is deleted then anyway).
  const sweeps = every(
    h.nonceSweepMs,
    async () => {
      await Promise.all([
        h.store.acme.sweepUsedNonces(h.clock()).catch(failed("sweeping used ACME nonces failed")),
        h.store.sessions
          .sweep(h.clock(), h.clock() - SESSION_IDLE_MS)
          .catch(failed("sweeping ended dashboard sessions failed")),
      ]);
    },
    failed("sweeping failed"),
  );
  // failed authentications are written to the audit trail one event per address and window
  const failureSweeps = every(
    h.failures.windowMs / 4,
    () => h.failures.sweep(h.clock()),
    failed("sweeping failed authentications failed"),
  );

  return {
    async stop() {
      await Promise.all([renewals.stop(), rotations.stop(), sweeps.stop(), failureSweeps.stop()]);
    },
  };
}
