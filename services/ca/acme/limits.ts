export interface AcmeLimits {
  orderLifetimeMs: number;
  authzLifetimeMs: number;
  nonceLifetimeMs: number;
  /** how often used nonces past their lifetime are swept from the record */
  nonceSweepMs: number;
  /** newOrder requests per account per window (429 rateLimited beyond) */
  rateLimit: number;
  rateWindowMs: number;
  /** how long a challenge response waits for its validation before answering "processing" */
  validationWaitMs: number;
  /** newAccount requests that would create an account, per client address per window */
  newAccountLimit: number;
  newAccountWindowMs: number;
}

export const DEFAULT_LIMITS: AcmeLimits = {
  orderLifetimeMs: 3_600_000,
  authzLifetimeMs: 3_600_000,
  nonceLifetimeMs: 3_600_000,
  nonceSweepMs: 60_000,
  rateLimit: 300,
  rateWindowMs: 3_600_000,
  validationWaitMs: 10_000,
  newAccountLimit: 60,
  newAccountWindowMs: 60_000,
};
