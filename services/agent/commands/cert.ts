import { join, resolve } from "node:path";
import { parseKeyType } from "../../../shared/keys.js";
import { parseHostPort } from "../actions/verify.js";
import { DeployError, type DeployPlan, deploy, preflight } from "../deploy.js";
import type { IssuedCert } from "../issuers/ca-client.js";
import { keyAndCsr } from "../keygen.js";
import { dnsNameText, ipAddressText } from "../names.js";
import { renewalTime } from "../schedule.js";
import { type Managed, type ReloadAction, safeName } from "../state.js";
import { bootstrapFromJoin } from "./bootstrap.js";
import { type AgentContext, clientFor } from "./context.js";

export interface CertOpts {
  name: string;
  token?: string;
  join?: string;
  dns?: string[];
  ip?: string[];
  out: string;
  certFile?: string;
  keyFile?: string;
  keyType: string;
  reload?: string[];
  verify?: string;
  validity?: string;
}

export function parseReload(spec: string): ReloadAction {
  if (spec.startsWith("docker:") && spec.length > 7) return { kind: "docker", container: spec.slice(7) };
  if (spec.startsWith("exec:") && spec.length > 5)
    return { kind: "exec", command: spec.slice(5), cwd: process.cwd() };
  throw new RangeError(`invalid --reload "${spec}": use docker:CONTAINER or exec:COMMAND`);
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
  if (o.verify !== undefined) {
    try {
      parseHostPort(o.verify);
    } catch {
      throw new RangeError(`invalid --verify "${o.verify}": use HOST:PORT, e.g. 10.0.0.5:5000`);
    }
  }
  return {
    certFile: join(out, o.certFile ?? defaults.certFile),
    keyFile: join(out, o.keyFile ?? defaults.keyFile),
    reload: (o.reload ?? []).map(parseReload),
    ...(o.verify !== undefined ? { verify: o.verify.trim() } : {}),
  };
}

/** `cert` with a token: key here, CSR, /v1/sign, files, reload, verify, record for renewal. */
export async function certWithToken(ctx: AgentContext, o: CertOpts): Promise<Managed> {
  const name = safeName(o.name);
  const dns = (o.dns ?? []).map(dnsNameText);
  const ips = (o.ip ?? []).map(ipAddressText);
  if (dns.length === 0 && ips.length === 0) throw new RangeError("give at least one --dns or --ip");
  const keyType = parseKeyType(o.keyType);
  const plan = deployPlan(o, { certFile: "domain.crt", keyFile: "domain.key" });
  if (o.join && o.token)
    throw new RangeError("give --token or --join, not both (a join string carries its token)");
  let token = o.token;
  if (o.join) token = await bootstrapFromJoin(ctx.home, o.join);
  if (!token) throw new RangeError("give --token (or --join)");
  const { ca, client } = clientFor(ctx);
  await preflight(plan, deployDeps(ctx, ca.rootPem, name));
  const { keyPem, csrPem } = await keyAndCsr(keyType, { dns, ips });
  const issued = await client.sign(token, csrPem, o.validity);
  const managed: Managed = {
    name,
    issuer: { kind: "ca" },
    dns,
    ips,
    keyType,
    ...plan,
    ...issuedFields(issued, ctx.random()),
  };
  try {
    await deploy(plan, { cert: issued.fullchain, key: keyPem }, deployDeps(ctx, ca.rootPem, name));
  } catch (err) {
    recordFailedEnrolment(ctx, managed, err);
    throw err;
  }
  const saved = { ...managed, lastResult: result(ctx, true, `issued ${issued.serial}`) };
  ctx.home.save(saved);
  return saved;
}

/**
 * After `cert` (with a token or over ACME) failed to deploy: when the previous files went back,
 * the new certificate is not in use, so the record stays what it was (none, on a first
 * enrolment) and only notes the failure; otherwise the new files are in place and the new record
 * says so.
 */
export function recordFailedEnrolment(ctx: AgentContext, attempted: Managed, err: unknown): void {
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

export function issuedFields(issued: IssuedCert, random: number) {
  const notBefore = Date.parse(issued.notBefore);
  const notAfter = Date.parse(issued.notAfter);
  return {
    serial: issued.serial,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    renewAt: new Date(renewalTime(notBefore, notAfter, random)).toISOString(),
  };
}

export function deployDeps(ctx: AgentContext, rootPem: string, name: string) {
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
