import { InputError } from "../../../shared/errors.js";
import type { Logger } from "../../../shared/log.js";

/** A webhook as serve --alert-webhook takes it: where to POST, and how to name it in logs. */
export interface Webhook {
  /** the URL without its user and password */
  url: string;
  /** "Basic ..." when the URL carried a user or password (fetch refuses URLs that carry them) */
  authorization: string | null;
  /** scheme, host and path only: what logs and errors show (no credentials, no query) */
  shown: string;
}

/**
 * --alert-webhook: an http or https URL. Credentials in it are sent as Basic authorization and
 * never shown: the error for a bad URL does not echo it, and logs name the host and path only.
 */
export function parseWebhook(text: string): Webhook {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new InputError("--alert-webhook: not a URL; give one like https://hooks.lan/certyard");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InputError(
      `--alert-webhook: ${url.protocol.replace(/:$/, "")} is not http or https; give one like https://hooks.lan/certyard`,
    );
  }
  if (url.hash) throw new InputError("--alert-webhook: a URL with a #fragment cannot be posted to");
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization =
    user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` : null;
  url.username = "";
  url.password = "";
  return { url: url.href, authorization, shown: `${url.protocol}//${url.host}${url.pathname}` };
}

export interface RetryPolicy {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

/** Five tries over about half a minute (1, 2, 4, 8 s between them), 10 s each at most. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  firstDelayMs: 1000,
  maxDelayMs: 30_000,
  timeoutMs: 10_000,
};

/**
 * Sends each alert to every webhook as a JSON POST, retried with exponential backoff on a
 * network error, a timeout, 408, 429 or 5xx; another 4xx is the receiver refusing and is not
 * retried. Sending runs in the background; `idle()` waits for what is under way.
 */
export function webhookSender(
  hooks: readonly Webhook[],
  log: Logger,
  retry: RetryPolicy = DEFAULT_RETRY,
  fetchFn: typeof fetch = fetch,
) {
  const pending = new Set<Promise<void>>();
  let closed = false;

  async function deliver(hook: Webhook, body: string): Promise<void> {
    let delay = retry.firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const res = await fetchFn(hook.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(hook.authorization ? { authorization: hook.authorization } : {}),
          },
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(retry.timeoutMs),
        });
        await res.body?.cancel();
        if (res.ok) return;
        why = `answered ${res.status}`;
        if (res.status < 500 && res.status !== 408 && res.status !== 429) {
          log.error({ webhook: hook.shown, status: res.status }, "the alert webhook refused the alert");
          return;
        }
      } catch (err) {
        why =
          (err as Error).name === "TimeoutError" ? `no answer within ${retry.timeoutMs} ms` : causeOf(err);
      }
      if (attempt >= retry.attempts || closed) {
        log.error({ webhook: hook.shown, attempts: attempt, why }, "the alert could not be delivered");
        return;
      }
      log.warn({ webhook: hook.shown, attempt, why, retryInMs: delay }, "alert delivery failed; retrying");
      // unref: a retry waiting here does not keep a stopping serve alive
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, retry.maxDelayMs);
    }
  }

  return {
    send(alert: object): void {
      const body = JSON.stringify(alert);
      for (const hook of hooks) {
        const p = deliver(hook, body).catch((err: unknown) =>
          log.error({ webhook: hook.shown, err: causeOf(err) }, "alert delivery failed"),
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
    },
    /** Resolves once every delivery under way has succeeded or given up. */
    async idle(): Promise<void> {
      while (pending.size > 0) await Promise.all(pending);
    },
    /** No more retries after the attempt under way. */
    close(): void {
      closed = true;
    },
  };
}
export type WebhookSender = ReturnType<typeof webhookSender>;

/** undici's "fetch failed" with the network reason under it; never the URL (it may carry credentials). */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
