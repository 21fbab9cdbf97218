import { createFetch, FetchError } from "ofetch";
import type { IssuedCertificate } from "../../../shared/api.js";
import type { ProblemDocument } from "../../../shared/problem.js";
import {
  certificatesFromPem,
  encodePem,
  fingerprint,
  normalizeFingerprint,
} from "../../../shared/x509/pem.js";
import { fetchFailureReason, ServerError } from "./fetch-error.js";
import { type TlsTrust, tlsFetch } from "./tls-fetch.js";

export type IssuedCert = IssuedCertificate;

/** POST /v1/hosts/report's body (CONTRACT.md, "Fleet view"). */
export interface HostReportBody {
  name: string;
  host: string;
  servedSha256?: string;
  renewAt?: string;
  error?: string;
}

/** An error from the CA, with the problem document it sent when it sent one. */
export class CaError extends ServerError<ProblemDocument> {
  override readonly name = "CaError";
}

function toCaError(what: string, err: unknown): CaError {
  if (err instanceof FetchError) {
    const data = err.data as Partial<ProblemDocument> | undefined;
    if (err.status && data && typeof data.detail === "string") {
      return new CaError(`${what}: ${data.detail} (${err.status})`, err.status, data as ProblemDocument, {
        cause: err,
      });
    }
    return new CaError(`${what}: ${fetchFailureReason(err)}`, err.status, undefined, { cause: err });
  }
  return new CaError(`${what}: ${err instanceof Error ? err.message : String(err)}`, undefined, undefined, {
    cause: err,
  });
}

export interface CaClientOptions {
  url: string;
  /** the pinned root: the only certificate the client trusts */
  rootPem: string;
  timeoutMs?: number;
}

/**
 * The certificate a mutual-TLS request presents: the leaf of the certificate file, without the
 * intermediates after it. The CA knows its own intermediates and never reads a client's chain (it
 * finds the presented certificate in its inventory), while each intermediate sent costs its TLS
 * server a certificate decoded and a signature checked in the handshake, and node's peer
 * certificate a copy of the chain: about 0.1 ms of the CA's CPU per renewal (issue 16). A file
 * with no certificate in it goes as it is, for the TLS layer to refuse as before.
 */
export function leafPem(certPem: string): string {
  const leaf = certificatesFromPem(certPem)[0];
  return leaf ? encodePem("CERTIFICATE", leaf) : certPem;
}

/** The CA's HTTP API through ofetch, trusting only the pinned root. */
export function caClient(o: CaClientOptions) {
  const base = { baseURL: o.url, retry: 0 as const, timeout: o.timeoutMs ?? 30_000 };
  // One connection pool for the client's life; node closes idle keep-alive sockets by itself.
  const pinned = createFetch({ fetch: tlsFetch({ ca: o.rootPem }).fetch }).create(base);
  return {
    async sign(token: string, csrPem: string, validity?: string): Promise<IssuedCert> {
      try {
        return await pinned<IssuedCert>("/v1/sign", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: { csr: csrPem, ...(validity ? { validity } : {}) },
        });
      } catch (err) {
        throw toCaError("the CA refused to sign", err);
      }
    },

    /** Renewal over mutual TLS: the current certificate and key are the credential. */
    async renew(current: { certPem: string; keyPem: string }, csrPem?: string): Promise<IssuedCert> {
      const mtls = tlsFetch({ ca: o.rootPem, cert: leafPem(current.certPem), key: current.keyPem });
      try {
        return await createFetch({ fetch: mtls.fetch })<IssuedCert>("/v1/renew", {
          ...base,
          method: "POST",
          body: csrPem ? { csr: csrPem } : {},
        });
      } catch (err) {
        throw toCaError("renewal failed", err);
      } finally {
        mtls.close();
      }
    },

    /** POST /v1/hosts/report over mutual TLS: what this host serves (its certificate is the credential). */
    async report(current: { certPem: string; keyPem: string }, body: HostReportBody): Promise<void> {
      const mtls = tlsFetch({ ca: o.rootPem, cert: leafPem(current.certPem), key: current.keyPem });
      try {
        await createFetch({ fetch: mtls.fetch })("/v1/hosts/report", { ...base, method: "POST", body });
      } catch (err) {
        throw toCaError("reporting to the CA failed", err);
      } finally {
        mtls.close();
      }
    },

    /** the current root; after a root rotation also every root served and the cross-certificates */
    async root(): Promise<{ pem: string; sha256: string; roots?: string; cross?: string }> {
      try {
        return await pinned<{ pem: string; sha256: string; roots?: string; cross?: string }>("/v1/root");
      } catch (err) {
        throw toCaError("cannot fetch the root", err);
      }
    },
  };
}
export type CaClient = ReturnType<typeof caClient>;

/**
 * First contact: the root is fetched before anything is trusted, so it is checked against the
 * fingerprint the user copied from the CA; then the CA's TLS certificate must chain to it.
 */
export async function fetchPinnedRoot(url: string, expectedFingerprint: string): Promise<string> {
  const expected = normalizeFingerprint(expectedFingerprint);
  const insecure = tlsFetch({ rejectUnauthorized: false } satisfies TlsTrust);
  let pem: string;
  try {
    pem = (
      await createFetch({ fetch: insecure.fetch })<{ pem: string }>("/v1/root", {
        baseURL: url,
        retry: 0,
        timeout: 30_000,
      })
    ).pem;
  } catch (err) {
    throw toCaError(`cannot reach the CA at ${url}`, err);
  } finally {
    insecure.close();
  }
  const der = certificatesFromPem(pem)[0];
  if (!der) throw new Error(`the CA at ${url} sent no root certificate`);
  const got = fingerprint(der);
  if (got !== expected) {
    throw new Error(
      `root fingerprint mismatch: expected ${expected}, the CA at ${url} has ${got}; nothing was stored`,
    );
  }
  // Now the channel itself must be authenticated by that root.
  await caClient({ url, rootPem: pem }).root();
  return pem;
}
