import type { Logger } from "../../../shared/log.js";
import type { Authority } from "./authority.js";
import {
  ensureServingCert,
  issueServingCert,
  readServingCert,
  type ServingCert,
  type ServingNames,
  servingDue,
  servingFits,
} from "./serving.js";

/** The lease under which one replica at a time renews the serving certificate a data directory shares. */
export const SERVING_LEASE = "serving-cert";

/**
 * How far into its life a certificate due for renewal is renewed by a replica that does not
 * hold the lease: its data directory is then its own copy, which no holder renews.
 */
const UNSHARED_RENEWAL = 5 / 6;

export interface ServingCheck {
  authority: Authority;
  dataDir: string;
  names: ServingNames;
  now: number;
  /** false in a cluster's later workers: they take up what the first one stored */
  mayIssue: boolean;
}

/** leases/runner.ts: runs `fn` in the replica holding the lease `name`; whether it ran */
export type RunUnderLease = (name: string, fn: () => Promise<void>) => Promise<boolean>;

/**
 * serve's periodic look at its TLS certificate (DATA/tls): the stored one while it fits and is
 * not due. Replicas that share the data directory (one volume) share the certificate, and its
 * renewal at two thirds of its life runs under the lease SERVING_LEASE: the holder issues and
 * stores the next one, the others take it up from the files at their next look. One that does
 * not hold the lease renews by itself only once the certificate is five sixths through its life
 * (a data directory copied per replica: nobody else renews its copy). A certificate for other
 * names (a changed --tls-* or --url) or from a rotated-out intermediate is replaced at once,
 * as before. `issued`: this process issued `cert`.
 */
export async function checkServingCert(
  c: ServingCheck,
  runUnderLease: RunUnderLease,
): Promise<{ cert: ServingCert; issued: boolean }> {
  const current = readServingCert(c.dataDir);
  if (!current || !c.mayIssue || !servingFits(current, c.authority, c.names)) {
    const cert = await ensureServingCert(c.authority, c.dataDir, c.names, c.now, c.mayIssue);
    return { cert, issued: cert.serial !== current?.serial };
  }
  if (!servingDue(current, c.now)) return { cert: current, issued: false };
  let renewed: { cert: ServingCert; issued: boolean } | null = null;
  await runUnderLease(SERVING_LEASE, async () => {
    // the holder before this one may have renewed it since this process read the files
    const stored = readServingCert(c.dataDir);
    renewed =
      stored && servingFits(stored, c.authority, c.names) && !servingDue(stored, c.now)
        ? { cert: stored, issued: false }
        : { cert: await issueServingCert(c.authority, c.dataDir, c.names), issued: true };
  });
  if (renewed) return renewed;
  const late = current.notBefore + (current.notAfter - current.notBefore) * UNSHARED_RENEWAL;
  if (c.now >= late) return { cert: await issueServingCert(c.authority, c.dataDir, c.names), issued: true };
  return { cert: current, issued: false };
}

/**
 * checkServingCert, and a certificate other than `serving` put to use (`use`: the server's TLS
 * context) and logged: issued here, or taken up from what another replica or worker stored.
 * The certificate to serve from now on, null when it is still `serving`.
 */
export async function renewServing(
  c: ServingCheck & { log: Logger },
  serving: ServingCert,
  runUnderLease: RunUnderLease,
  use: (cert: ServingCert) => void,
): Promise<ServingCert | null> {
  const next = await checkServingCert(c, runUnderLease);
  if (next.cert.serial === serving.serial) return null;
  use(next.cert);
  c.log.info(
    { serial: next.cert.serial, issued: next.issued },
    next.issued ? "serving certificate renewed" : "serving certificate taken up from the data directory",
  );
  return next.cert;
}
