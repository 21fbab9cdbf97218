import { X509Certificate } from "node:crypto";
import { parseKeyType } from "../../../shared/keys.js";
import { certificatesFromPem } from "../../../shared/x509/pem.js";
import {
  type CertFiles,
  type FileContents,
  readCertFiles,
  removeCertFiles,
  writeCertFiles,
} from "../actions/files.js";
import { DeployError, deploy, preflight } from "../deploy.js";
import { keyAndCsr } from "../keygen.js";
import { isDue, renewalTimeInWindow } from "../schedule.js";
import type { Managed } from "../state.js";
import { deployDeps, recordOf, result } from "./cert.js";
import { type AgentContext, requireHome } from "./context.js";
import { issuerFromRecord } from "./issuers.js";

export interface RenewOpts {
  name?: string;
  force?: boolean;
  keepKey?: boolean;
}

export type RenewOutcome = { name: string; status: "renewed" | "not-due" | "failed"; message: string };

/**
 * One pass over the managed certificates. A failure leaves the current files as they were
 * (or puts them back) and is recorded; the others still run.
 */
export async function renewAll(ctx: AgentContext, o: RenewOpts): Promise<RenewOutcome[]> {
  requireHome(ctx);
  // With --name only that record is read, so one damaged record does not stop the others.
  const chosen = o.name ? [ctx.home.get(o.name)].filter((m) => m !== null) : ctx.home.list();
  if (o.name && chosen.length === 0) throw new Error(`no managed certificate named "${o.name}"`);
  const outcomes: RenewOutcome[] = [];
  for (const record of chosen) {
    const m = o.force ? record : await refreshWindow(ctx, record);
    if (!o.force && !isDue(Date.parse(m.renewAt), ctx.now())) {
      outcomes.push({ name: m.name, status: "not-due", message: `not due until ${m.renewAt}` });
      continue;
    }
    try {
      const renewed = await renewOne(ctx, m, o.keepKey ?? false);
      outcomes.push({
        name: m.name,
        status: "renewed",
        message: `renewed: serial ${renewed.serial}, expires ${renewed.notAfter}`,
      });
    } catch (err) {
      const message = (err as Error).message;
      ctx.home.save({ ...m, lastResult: result(ctx, false, message) });
      ctx.log.error({ cert: m.name, err: message }, "renewal failed");
      outcomes.push({ name: m.name, status: "failed", message });
    }
  }
  // Every run reports, due or not: a renew from cron is also the host's sign of life.
  const { reportQuietly } = await import("./report.js");
  await reportQuietly(
    ctx,
    chosen.flatMap((r) => {
      try {
        return [ctx.home.get(r.name) ?? r];
      } catch {
        return [r];
      }
    }),
  );
  return outcomes;
}

/**
 * RFC 9773 4.2: the issuer's renewal window can move after issue (a revocation, a mass
 * re-issue), so `renew` asks again before it decides whether a certificate is due. A moved window
 * gives a new renewal time inside it, recorded; an issuer that cannot be asked leaves the record
 * as it is. Only for certificates whose issuer gave a window at issue.
 */
async function refreshWindow(ctx: AgentContext, m: Managed): Promise<Managed> {
  if (!m.renewalInfo) return m;
  const current = readCertFiles(m);
  if (!current) return m;
  try {
    const issuer = await issuerFromRecord(ctx, m);
    const window = await issuer.renewalWindow?.(current.cert);
    if (!window || (window.start === m.renewalInfo.start && window.end === m.renewalInfo.end)) return m;
    const renewAt = renewalTimeInWindow(Date.parse(window.start), Date.parse(window.end), ctx.random());
    const moved: Managed = { ...m, renewalInfo: window, renewAt: new Date(renewAt).toISOString() };
    ctx.home.save(moved);
    ctx.log.info({ cert: m.name, window, renewAt: moved.renewAt }, "the CA moved the renewal window");
    return moved;
  } catch (err) {
    ctx.log.warn({ cert: m.name, err: (err as Error).message }, "could not ask for the renewal window");
    return m;
  }
}

/**
 * What a renewal presents as the current certificate: one issued before but not deployed (the
 * previous files went back) while it is still valid, as it is the newest the issuer knows (the CA
 * renews only that one: its predecessor in the files is superseded); else the files.
 */
function currentOf(ctx: AgentContext, m: Managed, pending: CertFiles): FileContents | null {
  const kept = readCertFiles(pending);
  if (kept) {
    const leaf = certificatesFromPem(kept.cert)[0];
    if (leaf && Date.parse(new X509Certificate(leaf).validTo) > ctx.now()) {
      ctx.log.info({ cert: m.name }, "renewing from the certificate the last renewal could not deploy");
      return kept;
    }
    removeCertFiles(pending);
  }
  return readCertFiles(m);
}

/** One renewal, whatever the issuer: as `cert`, with the current files kept until the new ones are served. */
export async function renewOne(ctx: AgentContext, m: Managed, keepKey: boolean): Promise<Managed> {
  const issuer = await issuerFromRecord(ctx, m);
  const pending = ctx.home.pendingFiles(m.name);
  const current = currentOf(ctx, m, pending);
  issuer.checkRenewal(m, current);
  const deps = deployDeps(ctx, issuer.verifyRoot(), m.name);
  await preflight(m, deps);
  const next =
    keepKey && issuer.canKeepKey && current
      ? { keyPem: current.key, csrPem: undefined }
      : await keyAndCsr(parseKeyType(m.keyType), m);
  const issued = await issuer.renew(m, current, next.csrPem);
  // The new certificate's window, if any, replaces the old one's.
  const { renewalInfo: _old, ...rest } = m;
  const updated: Managed = { ...rest, ...recordOf(ctx, issued) };
  const fresh = { cert: issued.fullchain, key: next.keyPem };
  try {
    await deploy(m, fresh, deps);
  } catch (err) {
    if (err instanceof DeployError && err.restored) {
      // Not in use, but the CA has issued it and superseded the one in the files: kept (key
      // 0600) for the next renewal, so that one does not find its certificate unrenewable.
      writeCertFiles(pending, fresh);
      ctx.log.warn(
        { cert: m.name, serial: issued.serial },
        "the new certificate is kept for the next renewal",
      );
    }
    throw err;
  }
  removeCertFiles(pending);
  const saved = { ...updated, lastResult: result(ctx, true, `renewed ${issued.serial}`) };
  ctx.home.save(saved);
  ctx.log.info({ cert: m.name, serial: issued.serial, notAfter: issued.notAfter }, "renewed");
  return saved;
}
