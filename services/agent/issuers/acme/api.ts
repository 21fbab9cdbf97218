import type {
  AuthzDoc,
  ChallengeDoc,
  DirectoryDoc,
  Identifier,
  OrderDoc,
} from "../../../../shared/acme/types.js";
import { AcmeError, type AcmeFetch, type AcmeSession, toAcmeError } from "./http.js";
import { externalAccountBinding } from "./jws.js";

/*
 * One function per ACME endpoint, each with its RFC section. The flows that combine them are in
 * flow.ts. Responses are checked only as far as the flows rely on them.
 */

const need = (what: string, v: string | null | undefined): string => {
  if (!v) throw new AcmeError(`the ACME server sent no ${what}`, undefined, undefined);
  return v;
};

/** RFC 8555 7.1.1: the directory. */
export async function getDirectory($fetch: AcmeFetch, url: string): Promise<DirectoryDoc> {
  let d: DirectoryDoc;
  try {
    d = await $fetch<DirectoryDoc>(url);
  } catch (err) {
    throw toAcmeError(`cannot read the ACME directory ${url}`, err);
  }
  if (!d || typeof d !== "object" || !d.newNonce || !d.newAccount || !d.newOrder) {
    throw new AcmeError(`${url} is not an ACME directory`, undefined, undefined);
  }
  return d;
}

/**
 * RFC 8555 7.3 (and 7.3.1 onlyReturnExisting, 7.3.4 externalAccountBinding): creates or finds
 * the account; its URL is the Location header.
 */
export async function newAccount(
  s: AcmeSession,
  dir: DirectoryDoc,
  o: { email?: string; eab?: { kid: string; hmacKey: string }; onlyReturnExisting?: boolean },
): Promise<{ url: string; status: string }> {
  const payload = o.onlyReturnExisting
    ? { onlyReturnExisting: true }
    : {
        termsOfServiceAgreed: true,
        ...(o.email ? { contact: [`mailto:${o.email}`] } : {}),
        ...(o.eab
          ? {
              externalAccountBinding: await externalAccountBinding(s.key.jwk, {
                ...o.eab,
                url: dir.newAccount,
              }),
            }
          : {}),
      };
  const res = await s.post<{ status: string }>("newAccount", dir.newAccount, payload);
  return { url: need("account URL (Location)", res.headers.get("location")), status: res.data?.status ?? "" };
}

/** RFC 8555 7.4 (identifiers: RFC 8738 for ip; `replaces`: RFC 9773 5). */
export async function newOrder(
  s: AcmeSession,
  dir: DirectoryDoc,
  o: { identifiers: Identifier[]; replaces?: string },
): Promise<{ url: string; order: OrderDoc }> {
  const res = await s.post<OrderDoc>("newOrder", dir.newOrder, {
    identifiers: o.identifiers,
    ...(o.replaces ? { replaces: o.replaces } : {}),
  });
  return { url: need("order URL (Location)", res.headers.get("location")), order: res.data };
}

/** RFC 8555 7.4: the order, POST-as-GET (6.3). Also returns Retry-After, for polling. */
export async function getOrder(
  s: AcmeSession,
  url: string,
): Promise<{ order: OrderDoc; retryAfter: string | null }> {
  const res = await s.post<OrderDoc>("order", url, null);
  return { order: res.data, retryAfter: res.headers.get("retry-after") };
}

/** RFC 8555 7.5: an authorization, POST-as-GET. */
export async function getAuthorization(
  s: AcmeSession,
  url: string,
): Promise<{ authz: AuthzDoc; retryAfter: string | null }> {
  const res = await s.post<AuthzDoc>("authorization", url, null);
  return { authz: res.data, retryAfter: res.headers.get("retry-after") };
}

/** RFC 8555 7.5.1: tell the server the challenge is ready, with an empty object. */
export async function respondToChallenge(s: AcmeSession, url: string): Promise<ChallengeDoc> {
  return (await s.post<ChallengeDoc>("challenge", url, {})).data;
}

/** RFC 8555 7.4: finalize with the CSR, DER in base64url. */
export async function finalizeOrder(
  s: AcmeSession,
  url: string,
  csrDer: Uint8Array,
): Promise<{ order: OrderDoc; retryAfter: string | null }> {
  const res = await s.post<OrderDoc>("finalize", url, { csr: Buffer.from(csrDer).toString("base64url") });
  return { order: res.data, retryAfter: res.headers.get("retry-after") };
}

/** RFC 8555 7.4.2: the certificate chain, PEM. */
export async function downloadCertificate(s: AcmeSession, url: string): Promise<string> {
  const res = await s.post<string>("certificate", url, null, {
    accept: "application/pem-certificate-chain",
    text: true,
  });
  return String(res.data);
}

/** RFC 9773 4.1: the suggested renewal window for a certificate, a plain GET. */
export async function getRenewalInfo(
  $fetch: AcmeFetch,
  dir: DirectoryDoc,
  certId: string,
): Promise<{ start: string; end: string }> {
  const base = need("renewalInfo URL", dir.renewalInfo);
  try {
    const r = await $fetch<{ suggestedWindow?: { start?: string; end?: string } }>(
      `${base.replace(/\/$/, "")}/${certId}`,
    );
    const start = r?.suggestedWindow?.start;
    const end = r?.suggestedWindow?.end;
    if (!start || !end || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end))) {
      throw new Error("no valid suggestedWindow");
    }
    return { start, end };
  } catch (err) {
    throw toAcmeError("cannot read the renewal info", err);
  }
}
