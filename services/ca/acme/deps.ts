import type { Logger } from "../../../shared/log.js";
import type { AcmeLimits } from "./limits.js";
import type { AcmeIssuer, AcmeStore } from "./ports.js";
import type { ChallengeValidator } from "./validate/index.js";

/** What the ACME domain is built from: the store and issuer it declared, the validator, limits. */
export interface AcmeDeps {
  store: AcmeStore;
  issuer: AcmeIssuer;
  validate: ChallengeValidator;
  /** the MAC key of nonces (nonces.ts), the same in every process of one CA */
  nonceKey: Buffer;
  clock: () => number;
  log: Logger;
  limits: AcmeLimits;
}
