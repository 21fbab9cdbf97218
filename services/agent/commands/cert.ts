import { resolve } from "node:path";
import { InputError } from "../../../shared/errors.js";
import { parseKeyType } from "../../../shared/keys.js";
import { hostPort } from "../../../shared/port.js";
import { fileInOut } from "../actions/files.js";
import { type DeployDeps, DeployError, type DeployPlan, deploy, preflight } from "../deploy.js";
import type { Issued, Names } from "../issuers/issuer.js";
import { keyAndCsr } from "../keygen.js";
import { dnsNameText, ipAddressText } from "../names.js";
import { renewalTime, renewalTimeInWindow } from "../schedule.js";
import { type Managed, type ReloadAction, safeName } from "../state.js";
import type { AgentContext } from "./context.js";
import { type IssuerFlags, issuerFromFlags } from "./issuers.js";

export interface CertOpts extends IssuerFlags {
  name: string;
  dns?: string[];
  ip?: string[];
  out: string;
  certFile?: string;
  keyFile?: string;
  keyType: string;
  reload?: string[];
  verify?: string;
}

/**
 * `cert`, whatever the issuer: every flag checked, the reloads' engine reached, then the key made
 * here, the certificate got, the files written, reloaded and verified (put back on failure), and
 * the certificate recorded for renewal.
 */
export async function cert(ctx: AgentContext, o: CertOpts): Promise<Managed> {
  const name = safeName(o.name);
  const names = namesOf(o);
  const keyType = parseKeyType(o.keyType);
  const choice = issuerFromFlags(o);
  const plan = deployPlan(o, choice.defaultFiles);
  const issuer = await choice.open(ctx);
  const deps = deployDeps(ctx, issuer.verifyRoot(), name);
  await preflight(plan, deps);
  const { keyPem, csrPem } = await keyAndCsr(keyType, names);
  const issued = await issuer.obtain(csrPem, names);
  const managed: Managed = {
    name,
    issuer: issuer.record,
    ...names,
    keyType,
    ...plan,
    ...recordOf(ctx, issued),
  };
  try {
    await deploy(plan, { cert: issued.fullchain, key: keyPem }, deps);
  } catch (err) {
    recordFailedEnrolment(ctx, managed, err);
    throw err;
  }
  const saved = { ...managed, lastResult: result(ctx, true, `issued ${issued.serial}`) };
  ctx.home.save(saved);
  const { reportQuietly } = await import("./report.js");
  await reportQuietly(ctx, [saved]);
  return saved;
}

function namesOf(o: Pick<CertOpts, "dns" | "ip">): Names {
  const dns = (o.dns ?? []).map(dnsNameText);
  const ips = (o.ip ?? []).map(ipAddressText);
  if (dns.length === 0 && ips.length === 0) throw new InputError("give at least one --dns or --ip");
  return { dns, ips };
}

export function parseReload(spec: string): ReloadAction {
  if (spec.startsWith("docker:") && spec.length > 7) return { kind: "docker", container: spec.slice(7) };
  if (spec.startsWith("exec:") && spec.length > 5)
    return { kind: "exec", command: spec.slice(5), cwd: process.cwd() };
  throw new InputError(`invalid --reload "${spec}": use docker:CONTAINER or exec:COMMAND`);
}

/**
 * Where `cert` writes and how it reloads and verifies, checked before anything is issued. The
 * paths are made absolute: `renew` runs them later from cron, in another working directory.
 */
export function deployPlan(
  o: Pick<CertOpts, "out" | "certFile" | "keyFile" | "reload" | "verify">,
  defaults: { certFile: string; keyFile: string },
): DeployPlan {
  const out = resolve(o.out);
  if (o.verify !== undefined) hostPort("--verify", o.verify, "10.0.0.5:5000");
  const certFile = fileInOut(out, "--cert-file", o.certFile ?? defaults.certFile);
  const keyFile = fileInOut(out, "--key-file", o.keyFile ?? defaults.keyFile);
  if (certFile === keyFile) throw new InputError(`--cert-file and --key-file are both ${certFile}`);
  return {
    certFile,
    keyFile,
    reload: (o.reload ?? []).map(parseReload),
    ...(o.verify !== undefined ? { verify: o.verify.trim() } : {}),
  };
}

/**
 * After `cert` failed to deploy: when the previous files went back, the new certificate is not
 * in use, so the record stays what it was (none, on a first enrolment) and only notes the
 * failure; otherwise the new files are in place and the new record says so.
 */
function recordFailedEnrolment(ctx: AgentContext, attempted: Managed, err: unknown): void {
  try {
    const inUse = err instanceof DeployError && err.restored ? ctx.home.get(attempted.name) : attempted;
    if (inUse) ctx.home.save({ ...inUse, lastResult: result(ctx, false, (err as Error).message) });
  } catch (recordErr) {
    // The deployment's own error is the one the user must see; this one only goes to the log.
    ctx.log.error(
      { cert: attempted.name, err: (recordErr as Error).message },
      "could not record the failure",
    );
  }
}

/**
 * What the record keeps of an issued certificate, and when to renew it: inside the issuer's
 * RFC 9773 window when it gave one, else when a third of the lifetime is left (with jitter).
 */
export function recordOf(ctx: AgentContext, issued: Issued) {
  const w = issued.renewalInfo;
  const renewAt = w
    ? renewalTimeInWindow(Date.parse(w.start), Date.parse(w.end), ctx.random())
    : renewalTime(Date.parse(issued.notBefore), Date.parse(issued.notAfter), ctx.random());
  return {
    serial: issued.serial,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    renewAt: new Date(renewAt).toISOString(),
    ...(w ? { renewalInfo: w } : {}),
  };
}

export function deployDeps(ctx: AgentContext, rootPem: string, name: string): DeployDeps {
  return {
    docker: ctx.docker,
    log: ctx.log,
    rootPem,
    backupDir: ctx.home.backupDir(name),
    verifyDeadlineMs: ctx.verifyTimeoutMs,
  };
}

export const result = (ctx: AgentContext, ok: boolean, message: string) => ({
  at: new Date(ctx.now()).toISOString(),
  ok,
  message,
});
