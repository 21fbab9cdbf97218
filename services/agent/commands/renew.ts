import { X509Certificate } from "node:crypto";
import { parseKeyType } from "../../../shared/keys.js";
import { readCertFiles } from "../actions/files.js";
import { deploy, preflight } from "../deploy.js";
import { keyAndCsr } from "../keygen.js";
import { isDue } from "../schedule.js";
import type { Managed } from "../state.js";
import { deployDeps, issuedFields, result } from "./cert.js";
import { type AgentContext, clientFor, requireHome } from "./context.js";

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
  return outcomes;
}

/** An ACME certificate's renewal window as its server says it now (RFC 9773 4.2). */
async function refreshWindow(ctx: AgentContext, m: Managed): Promise<Managed> {
  if (m.issuer.kind !== "acme" || !m.renewalInfo) return m;
  const { refreshRenewalWindow } = await import("./acme.js");
  return refreshRenewalWindow(ctx, m);
}

export async function renewOne(ctx: AgentContext, m: Managed, keepKey: boolean): Promise<Managed> {
  if (m.issuer.kind === "acme") {
    const { renewAcme } = await import("./acme.js");
    return renewAcme(ctx, m);
  }
  const current = readCertFiles(m);
  if (!current) {
    throw new Error(
      `${m.certFile} or ${m.keyFile} is missing: enrol again with certyard-agent cert --name ${m.name} --token ...`,
    );
  }
  const leaf = new X509Certificate(current.cert);
  if (Date.parse(leaf.validTo) <= ctx.now()) {
    throw new Error(
      `the certificate expired at ${new Date(leaf.validTo).toISOString()}, so it can no longer authenticate a renewal; ` +
        `enrol again with a new token: certyard-agent cert --name ${m.name} --token TOKEN ...`,
    );
  }
  const { ca, client } = clientFor(ctx);
  const deps = deployDeps(ctx, ca.rootPem, m.name);
  await preflight(m, deps);
  const next = keepKey
    ? { keyPem: current.key, csrPem: undefined }
    : await keyAndCsr(parseKeyType(m.keyType), m);
  const issued = await client.renew({ certPem: current.cert, keyPem: current.key }, next.csrPem);
  const updated: Managed = { ...m, ...issuedFields(issued, ctx.random()) };
  await deploy(m, { cert: issued.fullchain, key: next.keyPem }, deps);
  const saved = { ...updated, lastResult: result(ctx, true, `renewed ${issued.serial}`) };
  ctx.home.save(saved);
  ctx.log.info({ cert: m.name, serial: issued.serial, notAfter: issued.notAfter }, "renewed");
  return saved;
}
