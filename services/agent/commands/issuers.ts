import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InputError } from "../../../shared/errors.js";
import { portNumber } from "../../../shared/port.js";
import { httpsUrl } from "../../../shared/url.js";
import { certificatesFromPem } from "../../../shared/x509/pem.js";
import type { ChallengeSettings } from "../issuers/acme/challenges.js";
import { challengeToRecord } from "../issuers/acme/challenges.js";
import { caIssuer } from "../issuers/ca.js";
import type { Issuer } from "../issuers/issuer.js";
import type { AcmeIssuerRecord, Managed } from "../state.js";
import { caFromJoin } from "./bootstrap.js";
import type { AgentContext } from "./context.js";

/**
 * Which issuer a certificate comes from: for `cert`, from its flags (a token or join string:
 * certyard's API; --acme: an ACME CA); for `renew`, from the certificate's record. The ACME
 * client is loaded only for ACME certificates.
 */

/** `cert`'s flags that choose and configure the issuer. */
export interface IssuerFlags {
  token?: string;
  join?: string;
  validity?: string;
  acme?: string;
  email?: string;
  eabKid?: string;
  eabHmacKey?: string;
  http01Port?: string;
  webroot?: string;
  dns01Hook?: string;
  acmeCaCert?: string;
  verifyCa?: string;
}

/** An issuer chosen by `cert`'s flags, checked before anything is written. */
export interface IssuerChoice {
  /** the file names written in --out unless --cert-file and --key-file say otherwise */
  defaultFiles: { certFile: string; keyFile: string };
  /** Builds the issuer; a join string bootstraps the home first. */
  open(ctx: AgentContext): Promise<Issuer>;
}

export function issuerFromFlags(o: IssuerFlags): IssuerChoice {
  return o.acme ? acmeFromFlags(o, o.acme) : caFromFlags(o);
}

export async function issuerFromRecord(ctx: AgentContext, m: Managed): Promise<Issuer> {
  if (m.issuer.kind === "acme") {
    const { acmeIssuer } = await import("../issuers/acme/issuer.js");
    return acmeIssuer({ record: m.issuer, accountDir: ctx.home.accountDir(), log: ctx.log });
  }
  return caIssuer({ ca: ctx.home.ca(), now: ctx.now });
}

function caFromFlags(o: IssuerFlags): IssuerChoice {
  if (o.join && o.token)
    throw new InputError("give --token or --join, not both (a join string carries its token)");
  if (!o.join && !o.token) throw new InputError("give --token (or --join)");
  return {
    defaultFiles: { certFile: "domain.crt", keyFile: "domain.key" },
    async open(ctx) {
      if (!o.join) return caIssuer({ ca: ctx.home.ca(), token: o.token, validity: o.validity, now: ctx.now });
      const { pinned, token } = await caFromJoin(ctx.home, o.join);
      const ca = pinned ? { url: pinned.ref.url, rootPem: pinned.rootPem } : ctx.home.ca();
      const issuer = caIssuer({ ca, token, validity: o.validity, now: ctx.now });
      if (!pinned) return issuer;
      return {
        ...issuer,
        // Only now: a join string whose enrolment fails must not repoint the home at its CA.
        async obtain(csrPem, names) {
          const got = await issuer.obtain(csrPem, names);
          ctx.home.saveCa(pinned.ref, pinned.rootPem);
          return got;
        },
      };
    },
  };
}

function acmeFromFlags(o: IssuerFlags, directory: string): IssuerChoice {
  if (Boolean(o.eabKid) !== Boolean(o.eabHmacKey))
    throw new InputError("give both --eab-kid and --eab-hmac-key");
  if (o.validity !== undefined) {
    throw new InputError("--validity is for certyard's token API; over ACME the CA chooses the lifetime");
  }
  const challenge = challengeFromOpts(o);
  if (o.acmeCaCert) readCaFile("--acme-ca-cert", o.acmeCaCert);
  if (o.verifyCa) readCaFile("--verify-ca", o.verifyCa);
  const record: AcmeIssuerRecord = {
    kind: "acme",
    directory: directoryUrl(directory),
    ...(o.email ? { email: o.email } : {}),
    challenge: challengeToRecord(challenge),
    ...(o.acmeCaCert ? { caCertFile: resolve(o.acmeCaCert) } : {}),
    ...(o.eabKid ? { eabKid: o.eabKid } : {}),
    ...(o.verifyCa ? { verifyCaFile: resolve(o.verifyCa) } : {}),
  };
  const eab = o.eabKid && o.eabHmacKey ? { kid: o.eabKid, hmacKey: o.eabHmacKey } : undefined;
  return {
    // as certbot writes them
    defaultFiles: { certFile: "fullchain.pem", keyFile: "privkey.pem" },
    async open(ctx) {
      const { acmeIssuer } = await import("../issuers/acme/issuer.js");
      return acmeIssuer({ record, accountDir: ctx.home.accountDir(), eab, log: ctx.log });
    },
  };
}

export function challengeFromOpts(
  o: Pick<IssuerFlags, "http01Port" | "webroot" | "dns01Hook">,
): ChallengeSettings {
  const given = [o.http01Port, o.webroot, o.dns01Hook].filter((v) => v !== undefined);
  if (given.length > 1) throw new InputError("give only one of --http-01-port, --webroot, --dns-01-hook");
  if (o.webroot) return { kind: "webroot", dir: resolve(o.webroot) };
  if (o.dns01Hook) return { kind: "dns-01", hook: o.dns01Hook, cwd: process.cwd() };
  return { kind: "http-01", port: portNumber("--http-01-port", o.http01Port ?? "80") };
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
    throw new InputError(
      `${flag} ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
  if (certificatesFromPem(pem).length === 0)
    throw new InputError(`${flag} ${file}: no PEM certificate in it`);
  return pem;
}
