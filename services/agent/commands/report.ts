import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { readCertFiles } from "../actions/files.js";
import { servedLeaf } from "../actions/verify.js";
import { caClient, type HostReportBody } from "../issuers/ca-client.js";
import type { Managed } from "../state.js";
import type { AgentContext } from "./context.js";

/**
 * Host reports (POST /v1/hosts/report): after `cert`, after `renew` and once a day from `run`,
 * each managed certificate that certyard issued is reported to its CA over mutual TLS, with the
 * certificate itself as the credential: the managed name, this host's name, the SHA-256 of what
 * the --verify target serves (without --verify, of the certificate in the files), the next
 * renewal and the last error. A certificate from another ACME CA is not reported.
 */

export type ReportOutcome = { name: string; status: "sent" | "skipped" | "failed"; message: string };

/** How long one report may take: a CA that does not answer must not hold up a renewal long. */
const REPORT_TIMEOUT_MS = 10_000;
const SERVED_TIMEOUT_MS = 5_000;

/** Where a certificate is reported: the certyard CA whose root it chains to, if any. */
export function reportTarget(
  ctx: AgentContext,
  m: Managed,
  chainPem: string,
): { url: string; rootPem: string } | null {
  if (ctx.home.isBootstrapped()) {
    const ca = ctx.home.ca();
    if (chainsTo(chainPem, ca.rootPem)) return { url: ca.url, rootPem: ca.rootPem };
  }
  // An ACME-managed certificate from certyard's own directory, on a host not bootstrapped: the
  // CA's API is beside its directory, and its TLS chains to the same root as what it issues.
  if (m.issuer.kind === "acme" && m.issuer.caCertFile && existsSync(m.issuer.caCertFile)) {
    const dir = new URL(m.issuer.directory);
    if (!dir.pathname.endsWith("/acme/directory")) return null;
    const rootPem = readFileSync(m.issuer.caCertFile, "utf8");
    if (!chainsTo(chainPem, rootPem)) return null;
    return { url: `${dir.origin}${dir.pathname.slice(0, -"/acme/directory".length)}`, rootPem };
  }
  return null;
}

/** Whether the chain's leaf leads, through the chain's certificates, to a certificate of `rootPem`. */
export function chainsTo(chainPem: string, rootPem: string): boolean {
  const chain = certificatesFromPem(chainPem).map((d) => new X509Certificate(d));
  const roots = certificatesFromPem(rootPem).map((d) => new X509Certificate(d));
  let cur = chain[0];
  for (let depth = 0; cur && depth < 8; depth++) {
    const c: X509Certificate = cur;
    if (roots.some((r) => c.checkIssued(r) && c.verify(r.publicKey))) return true;
    cur = chain.find((p) => p !== c && c.checkIssued(p) && c.verify(p.publicKey));
  }
  return false;
}

/** One certificate's report; "skipped" when it has no files or certyard did not issue it. */
export async function reportOne(ctx: AgentContext, m: Managed): Promise<ReportOutcome> {
  const current = readCertFiles(m);
  if (!current) return { name: m.name, status: "skipped", message: "no certificate files" };
  const target = reportTarget(ctx, m, current.cert);
  if (!target)
    return { name: m.name, status: "skipped", message: "not issued by certyard: nothing to report" };
  const body: HostReportBody = { name: m.name, host: hostname(), renewAt: m.renewAt };
  let verifyError: string | null = null;
  if (m.verify) {
    try {
      body.servedSha256 = (await servedLeaf(m.verify, target.rootPem, SERVED_TIMEOUT_MS)).fingerprint;
    } catch (err) {
      verifyError = `${m.verify}: ${(err as Error).message}`;
    }
  } else {
    const leaf = certificatesFromPem(current.cert)[0];
    if (leaf) body.servedSha256 = fingerprint(leaf);
  }
  const error = m.lastResult && !m.lastResult.ok ? m.lastResult.message : verifyError;
  if (error) body.error = error.slice(0, 2000);
  const client = caClient({ url: target.url, rootPem: target.rootPem, timeoutMs: REPORT_TIMEOUT_MS });
  await client.report({ certPem: current.cert, keyPem: current.key }, body);
  return { name: m.name, status: "sent", message: `reported to ${target.url}` };
}

/** Reports each record; a failure is an outcome, not an exception. */
export async function reportAll(ctx: AgentContext, records: readonly Managed[]): Promise<ReportOutcome[]> {
  const outcomes: ReportOutcome[] = [];
  for (const m of records) {
    try {
      outcomes.push(await reportOne(ctx, m));
    } catch (err) {
      outcomes.push({ name: m.name, status: "failed", message: (err as Error).message });
    }
  }
  return outcomes;
}

/** After `cert` and `renew`: a report that fails is a warning, never the command's failure. */
export async function reportQuietly(ctx: AgentContext, records: readonly Managed[]): Promise<void> {
  for (const r of await reportAll(ctx, records)) {
    if (r.status === "failed") ctx.log.warn({ cert: r.name, err: r.message }, "could not report to the CA");
    else ctx.log.debug({ cert: r.name, status: r.status }, r.message);
  }
}
