import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { rootCertificates } from "node:tls";
import { certIdOf } from "../../../shared/acme/cert-id.js";
import type { Identifier } from "../../../shared/acme/types.js";
import { type KeyType, parseKeyType } from "../../../shared/keys.js";
import { httpsUrl } from "../../../shared/url.js";
import { certificatesFromPem, decodePem } from "../../../shared/x509/pem.js";
import { readCertFiles } from "../actions/files.js";
import { deploy, preflight } from "../deploy.js";
import { getDirectory, getRenewalInfo } from "../issuers/acme/api.js";
import {
  type ChallengeSettings,
  challengeFromRecord,
  challengeToRecord,
  solverFor,
} from "../issuers/acme/challenges.js";
import { type AcmeAccount, obtainCertificate, openAccount } from "../issuers/acme/flow.js";
import { acmeFetch } from "../issuers/acme/http.js";
import { keyAndCsr } from "../keygen.js";
import { dnsNameText, ipAddressText } from "../names.js";
import { renewalTime, renewalTimeInWindow } from "../schedule.js";
import { type Managed, safeName } from "../state.js";
import { type CertOpts, deployPlan, recordFailedEnrolment, result } from "./cert.js";
import type { AgentContext } from "./context.js";

export interface AcmeCertOpts extends CertOpts {
  acme: string;
  email?: string;
  eabKid?: string;
  eabHmacKey?: string;
  http01Port?: string;
  webroot?: string;
  dns01Hook?: string;
  acmeCaCert?: string;
  verifyCa?: string;
}

type AcmeIssuer = Extract<Managed["issuer"], { kind: "acme" }>;

export function challengeFromOpts(
  o: Pick<AcmeCertOpts, "http01Port" | "webroot" | "dns01Hook">,
): ChallengeSettings {
  const given = [o.http01Port, o.webroot, o.dns01Hook].filter((v) => v !== undefined);
  if (given.length > 1) throw new RangeError("give only one of --http-01-port, --webroot, --dns-01-hook");
  if (o.webroot) return { kind: "webroot", dir: resolve(o.webroot) };
  if (o.dns01Hook) return { kind: "dns-01", hook: o.dns01Hook, cwd: process.cwd() };
  const port = Number(o.http01Port ?? 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`invalid --http-01-port "${o.http01Port}"`);
  return { kind: "http-01", port };
}

/** The root a --verify handshake trusts for an ACME certificate: the given file, else the system store. */
const verifyRoot = (issuer: AcmeIssuer) =>
  issuer.verifyCaFile ? readFileSync(issuer.verifyCaFile, "utf8") : rootCertificates.join("\n");

function acmeDeps(ctx: AgentContext, issuer: AcmeIssuer, name: string) {
  return {
    docker: ctx.docker,
    log: ctx.log,
    rootPem: verifyRoot(issuer),
    backupDir: ctx.home.backupDir(name),
    verifyDeadlineMs: ctx.verifyTimeoutMs,
  };
}

async function withAccount<T>(
  ctx: AgentContext,
  issuer: AcmeIssuer,
  eab: { kid: string; hmacKey: string } | undefined,
  fn: (a: AcmeAccount) => Promise<T>,
): Promise<T> {
  const account = await openAccount({
    directoryUrl: issuer.directory,
    accountDir: ctx.home.accountDir(),
    caPem: issuer.caCertFile ? readFileSync(issuer.caCertFile, "utf8") : undefined,
    email: issuer.email,
    eab,
    eabKid: issuer.eabKid,
    log: ctx.log,
  });
  try {
    return await fn(account);
  } finally {
    await account.close();
  }
}

/**
 * One ACME issuance with a fresh key: order, challenges, finalize with the CSR, download; then
 * when the renewal is due: inside the server's RFC 9773 window when it has one, else at a third
 * of the lifetime left.
 */
async function issue(
  ctx: AgentContext,
  a: AcmeAccount,
  names: { dns: string[]; ips: string[] },
  keyType: KeyType,
  challenge: ChallengeSettings,
  replaces: string | undefined,
) {
  const { keyPem, csrPem } = await keyAndCsr(keyType, names);
  const csr = decodePem(csrPem)[0];
  if (!csr) throw new Error("no CSR was made");
  const identifiers: Identifier[] = [
    ...names.dns.map((value) => ({ type: "dns" as const, value })),
    ...names.ips.map((value) => ({ type: "ip" as const, value })),
  ];
  const chain = await obtainCertificate(a, {
    identifiers,
    csrDer: csr.der,
    solver: solverFor(challenge),
    replaces,
    log: ctx.log,
  });
  const leafDer = certificatesFromPem(chain)[0];
  if (!leafDer) throw new Error("the ACME server sent no certificate");
  const leaf = new X509Certificate(leafDer);
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  let renewAt = renewalTime(notBefore, notAfter, ctx.random());
  let renewalInfo: { start: string; end: string } | undefined;
  if (a.dir.renewalInfo) {
    try {
      renewalInfo = await getRenewalInfo(a.$fetch, a.dir, certIdOfLeaf(chain));
      renewAt = renewalTimeInWindow(Date.parse(renewalInfo.start), Date.parse(renewalInfo.end), ctx.random());
    } catch (err) {
      ctx.log.warn(
        { err: (err as Error).message },
        "no renewal info: renewing at a third of the lifetime left",
      );
    }
  }
  return {
    chain,
    keyPem,
    fields: {
      serial: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      renewAt: new Date(renewAt).toISOString(),
      renewalInfo,
    },
  };
}

/** The RFC 9773 CertID of the leaf of a PEM chain. */
function certIdOfLeaf(pem: string): string {
  const leaf = certificatesFromPem(pem)[0];
  if (!leaf) throw new Error("no certificate in the chain");
  return certIdOf(leaf);
}

function directoryUrl(text: string): string {
  return httpsUrl(text, "--acme", "https://ca.lan:8443/acme/directory").toString();
}

/** A CA file given on the command line: readable, and holding at least one certificate. */
function readCaFile(flag: string, file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(
      `${flag} ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  if (certificatesFromPem(pem).length === 0) throw new Error(`${flag} ${file}: no PEM certificate in it`);
  return pem;
}

/** `cert --acme`: as with a token, but from an ACME CA. */
export async function certWithAcme(ctx: AgentContext, o: AcmeCertOpts): Promise<Managed> {
  const name = safeName(o.name);
  const dns = (o.dns ?? []).map(dnsNameText);
  const ips = (o.ip ?? []).map(ipAddressText);
  if (dns.length === 0 && ips.length === 0) throw new RangeError("give at least one --dns or --ip");
  if (Boolean(o.eabKid) !== Boolean(o.eabHmacKey))
    throw new RangeError("give both --eab-kid and --eab-hmac-key");
  if (o.validity !== undefined) {
    throw new RangeError("--validity is for certyard's token API; over ACME the CA chooses the lifetime");
  }
  const keyType = parseKeyType(o.keyType);
  const challenge = challengeFromOpts(o);
  if (o.acmeCaCert) readCaFile("--acme-ca-cert", o.acmeCaCert);
  if (o.verifyCa) readCaFile("--verify-ca", o.verifyCa);
  const issuer: AcmeIssuer = {
    kind: "acme",
    directory: directoryUrl(o.acme),
    ...(o.email ? { email: o.email } : {}),
    challenge: challengeToRecord(challenge),
    ...(o.acmeCaCert ? { caCertFile: resolve(o.acmeCaCert) } : {}),
    ...(o.eabKid ? { eabKid: o.eabKid } : {}),
    ...(o.verifyCa ? { verifyCaFile: resolve(o.verifyCa) } : {}),
  };
  const plan = deployPlan(o, { certFile: "fullchain.pem", keyFile: "privkey.pem" });
  const deps = acmeDeps(ctx, issuer, name);
  await preflight(plan, deps);
  const eab = o.eabKid && o.eabHmacKey ? { kid: o.eabKid, hmacKey: o.eabHmacKey } : undefined;
  const got = await withAccount(ctx, issuer, eab, (a) =>
    issue(ctx, a, { dns, ips }, keyType, challenge, undefined),
  );
  const managed: Managed = { name, issuer, dns, ips, keyType, ...plan, ...got.fields };
  try {
    await deploy(plan, { cert: got.chain, key: got.keyPem }, deps);
  } catch (err) {
    recordFailedEnrolment(ctx, managed, err);
    throw err;
  }
  const saved = { ...managed, lastResult: result(ctx, true, `issued ${got.fields.serial}`) };
  ctx.home.save(saved);
  return saved;
}

/**
 * RFC 9773 4.2: the server's renewal window can move after issue (a revocation, a mass
 * re-issue), so `renew` asks again before it decides whether a certificate is due. A moved window
 * gives a new renewal time inside it, recorded; a server that cannot be asked leaves the record
 * as it is. Only for certificates whose server published a window at issue.
 */
export async function refreshRenewalWindow(ctx: AgentContext, m: Managed): Promise<Managed> {
  if (m.issuer.kind !== "acme" || !m.renewalInfo) return m;
  const current = readCertFiles(m);
  if (!current) return m;
  const { $fetch, close } = acmeFetch({
    caPem: m.issuer.caCertFile ? readFileSync(m.issuer.caCertFile, "utf8") : undefined,
  });
  try {
    const dir = await getDirectory($fetch, m.issuer.directory);
    if (!dir.renewalInfo) return m;
    const window = await getRenewalInfo($fetch, dir, certIdOfLeaf(current.cert));
    if (window.start === m.renewalInfo.start && window.end === m.renewalInfo.end) return m;
    const renewAt = renewalTimeInWindow(Date.parse(window.start), Date.parse(window.end), ctx.random());
    const moved: Managed = { ...m, renewalInfo: window, renewAt: new Date(renewAt).toISOString() };
    ctx.home.save(moved);
    ctx.log.info({ cert: m.name, window, renewAt: moved.renewAt }, "the CA moved the renewal window");
    return moved;
  } catch (err) {
    ctx.log.warn({ cert: m.name, err: (err as Error).message }, "could not ask for the renewal window");
    return m;
  } finally {
    await close();
  }
}

/** Renewal of an ACME certificate: the same flow again with a new key, `replaces` when the server has ARI. */
export async function renewAcme(ctx: AgentContext, m: Managed): Promise<Managed> {
  if (m.issuer.kind !== "acme") throw new Error(`${m.name} was not issued by ACME`);
  const issuer = m.issuer;
  const deps = acmeDeps(ctx, issuer, m.name);
  await preflight(m, deps);
  const current = readCertFiles(m);
  const got = await withAccount(ctx, issuer, undefined, async (a) => {
    let replaces: string | undefined;
    if (a.dir.renewalInfo && current) {
      try {
        replaces = certIdOfLeaf(current.cert);
      } catch {
        // a current certificate without an AKI is renewed without `replaces`
      }
    }
    return issue(ctx, a, m, parseKeyType(m.keyType), challengeFromRecord(issuer.challenge), replaces);
  });
  const { renewalInfo: _old, ...rest } = m;
  const updated: Managed = { ...rest, ...got.fields };
  await deploy(m, { cert: got.chain, key: got.keyPem }, deps);
  const saved = { ...updated, lastResult: result(ctx, true, `renewed ${got.fields.serial}`) };
  ctx.home.save(saved);
  ctx.log.info({ cert: m.name, serial: got.fields.serial, notAfter: got.fields.notAfter }, "renewed");
  return saved;
}
