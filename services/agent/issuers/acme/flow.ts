import type { DirectoryDoc, Identifier, OrderDoc } from "../../../../shared/acme/types.js";
import type { Logger } from "../../../../shared/log.js";
import { ACME_ERROR_NS } from "../../../../shared/problem.js";
import { loadOrCreateAccount, saveAccount } from "./account.js";
import {
  downloadCertificate,
  finalizeOrder,
  getAuthorization,
  getDirectory,
  getOrder,
  newAccount,
  newOrder,
  respondToChallenge,
} from "./api.js";
import { checkChallengeToken, type Solver } from "./challenges.js";
import { AcmeError, type AcmeFetch, AcmeSession, acmeFetch } from "./http.js";
import { accountKeyFrom, keyAuthorization } from "./jws.js";

/*
 * The flows on top of the endpoint functions in api.ts: open the account (RFC 8555 7.3), then
 * order, authorize, finalize and download (7.4, 7.5, 7.5.1, 7.4.2).
 */

export interface AcmeAccountOptions {
  directoryUrl: string;
  /** where account keys live (0600), one per directory URL */
  accountDir: string;
  caPem?: string;
  email?: string;
  eab?: { kid: string; hmacKey: string };
  /** without `eab` (a renewal): the key id of the EAB the account was made with, if any */
  eabKid?: string;
  fetch?: typeof globalThis.fetch;
  log: Logger;
}

export interface AcmeAccount {
  dir: DirectoryDoc;
  session: AcmeSession;
  $fetch: AcmeFetch;
  close(): Promise<void>;
}

export async function openAccount(o: AcmeAccountOptions): Promise<AcmeAccount> {
  const { $fetch, close } = acmeFetch({ caPem: o.caPem, fetch: o.fetch });
  try {
    const dir = await getDirectory($fetch, o.directoryUrl);
    const eabKid = o.eab?.kid ?? o.eabKid;
    const stored = loadOrCreateAccount(o.accountDir, o.directoryUrl, eabKid);
    const key = await accountKeyFrom(stored.key);
    const session = new AcmeSession($fetch, dir.newNonce, key);
    // 7.3.1: the account is looked up by its key on every run (one request), so that an account
    // the server has lost (a test server restarted, an account deleted) is made again.
    let url: string | undefined;
    try {
      url = (await newAccount(session, dir, { onlyReturnExisting: true })).url;
    } catch (err) {
      if (!(err instanceof AcmeError) || !err.problem?.type?.endsWith(":accountDoesNotExist")) throw err;
    }
    if (!url) {
      if (dir.meta?.externalAccountRequired && !o.eab) {
        const lost = stored.url ? ` (it no longer knows this host's account ${stored.url})` : "";
        throw new AcmeError(
          `${o.directoryUrl} requires an External Account Binding${lost}: give --eab-kid and --eab-hmac-key`,
          undefined,
          undefined,
        );
      }
      url = (await newAccount(session, dir, { email: o.email, eab: o.eab })).url;
      o.log.info({ account: url }, "ACME account created");
    }
    session.kid = url;
    if (url !== stored.url) {
      saveAccount(o.accountDir, {
        directory: o.directoryUrl,
        ...(eabKid ? { eabKid } : {}),
        url,
        keyPem: stored.key.export({ type: "pkcs8", format: "pem" }).toString(),
      });
    }
    return { dir, session, $fetch, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** RFC 8555 7.1.6 / 6.6: Retry-After as seconds or an HTTP date; clamped so polling stays bounded. */
export function retryDelayMs(retryAfter: string | null, fallbackMs: number, now = Date.now()): number {
  let ms = fallbackMs;
  if (retryAfter) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) ms = secs * 1000;
    else if (!Number.isNaN(Date.parse(retryAfter))) ms = Date.parse(retryAfter) - now;
  }
  return Math.min(Math.max(ms, 100), 10_000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll<T>(
  what: string,
  fetchOnce: () => Promise<{ value: T; retryAfter: string | null }>,
  done: (v: T) => boolean,
  deadlineMs: number,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  let fallback = 250;
  for (;;) {
    const { value, retryAfter } = await fetchOnce();
    if (done(value)) return value;
    const delay = retryDelayMs(retryAfter, fallback);
    if (Date.now() + delay > end)
      throw new AcmeError(`${what}: still pending after ${deadlineMs / 1000} s`, undefined, undefined);
    await sleep(delay);
    fallback = Math.min(fallback * 2, 5000);
  }
}

/** An order's or challenge's `error` (RFC 8555 6.7) in one line; nothing in it is relied on. */
function problemText(error: unknown): string {
  if (!error || typeof error !== "object") return "no reason given";
  const { type, detail } = error as Record<string, unknown>;
  return `${typeof type === "string" ? type.replace(ACME_ERROR_NS, "") : "error"}: ${typeof detail === "string" ? detail : ""}`;
}

export interface ObtainOptions {
  identifiers: Identifier[];
  csrDer: Uint8Array;
  solver: Solver;
  /** RFC 9773 5: the certID of the certificate this order replaces */
  replaces?: string;
  log: Logger;
  deadlineMs?: number;
}

/** Order, authorize every identifier with the solver, finalize, download: the PEM chain. */
export async function obtainCertificate(a: AcmeAccount, o: ObtainOptions): Promise<string> {
  const deadline = o.deadlineMs ?? 120_000;
  const s = a.session;
  const { url: orderUrl, order } = await newOrder(s, a.dir, {
    identifiers: o.identifiers,
    replaces: o.replaces,
  }).catch((err: unknown) => {
    // RFC 9773 5: a certificate is replaced by one order only, so an order an earlier attempt
    // left unfinished (a timeout, a failed challenge) holds it until that order expires. The
    // renewal goes on without `replaces`: only the server's window bookkeeping misses it.
    if (!o.replaces || !(err instanceof AcmeError) || err.problem?.type !== `${ACME_ERROR_NS}alreadyReplaced`)
      throw err;
    o.log.warn(
      { replaces: o.replaces },
      "the certificate is already being replaced by another order; ordering without replaces",
    );
    return newOrder(s, a.dir, { identifiers: o.identifiers });
  });
  if (order.status === "pending") {
    await o.solver.start();
    try {
      for (const authzUrl of order.authorizations) await authorize(a, authzUrl, o, deadline);
    } finally {
      await o.solver.stop();
    }
  }
  const ready = await poll<OrderDoc>(
    "order",
    async () => {
      const r = await getOrder(s, orderUrl);
      return { value: r.order, retryAfter: r.retryAfter };
    },
    (v) => v.status !== "pending",
    deadline,
  );
  if (ready.status === "invalid")
    throw new AcmeError(`the order failed: ${problemText(ready.error)}`, undefined, undefined);
  let final = ready;
  if (ready.status === "ready") final = (await finalizeOrder(s, ready.finalize, o.csrDer)).order;
  if (final.status !== "valid") {
    final = await poll<OrderDoc>(
      "finalize",
      async () => {
        const r = await getOrder(s, orderUrl);
        return { value: r.order, retryAfter: r.retryAfter };
      },
      (v) => v.status === "valid" || v.status === "invalid",
      deadline,
    );
  }
  if (final.status !== "valid" || !final.certificate) {
    throw new AcmeError(`the order was not issued: ${problemText(final.error)}`, undefined, undefined);
  }
  return downloadCertificate(s, final.certificate);
}

async function authorize(
  a: AcmeAccount,
  authzUrl: string,
  o: ObtainOptions,
  deadline: number,
): Promise<void> {
  const s = a.session;
  const { authz } = await getAuthorization(s, authzUrl);
  if (authz.status === "valid") return;
  const name = `${authz.wildcard ? "*." : ""}${authz.identifier.value}`;
  const challenge = authz.challenges.find((c) => c.type === o.solver.type);
  if (!challenge) {
    const offered = authz.challenges.map((c) => c.type).join(", ");
    throw new AcmeError(
      `the server offers no ${o.solver.type} challenge for ${name} (only ${offered})`,
      undefined,
      undefined,
    );
  }
  const keyAuth = await keyAuthorization(checkChallengeToken(challenge.token), s.key.jwk);
  const id = { ...authz.identifier, value: name };
  try {
    // inside the try: a hook that fails half-way (the record made, then an error) is cleaned up too
    await o.solver.present(id, challenge.token, keyAuth);
    await respondToChallenge(s, challenge.url);
    const done = await poll(
      `validation of ${name}`,
      async () => {
        const r = await getAuthorization(s, authzUrl);
        return { value: r.authz, retryAfter: r.retryAfter };
      },
      (v) => v.status !== "pending",
      deadline,
    );
    if (done.status !== "valid") {
      const failed = done.challenges.find((c) => c.type === o.solver.type);
      throw new AcmeError(
        `${o.solver.type} for ${name} failed: ${problemText(failed?.error)}`,
        undefined,
        undefined,
      );
    }
    o.log.info({ identifier: name, challenge: o.solver.type }, "authorization valid");
  } finally {
    await o.solver
      .cleanup(id, challenge.token, keyAuth)
      .catch((e: unknown) => o.log.warn({ identifier: name, err: String(e) }, "challenge clean-up failed"));
  }
}
