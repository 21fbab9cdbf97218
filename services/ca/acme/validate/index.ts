import type { ChallengeType, Identifier } from "../../../../shared/acme/types.js";
import { connectionProblem } from "../../../../shared/problem.js";
import { dns01 } from "./dns01.js";
import { http01 } from "./http01.js";
import { makeResolver } from "./resolve.js";
import { tlsAlpn01 } from "./tls-alpn01.js";

export interface ValidationRequest {
  identifier: Identifier;
  type: ChallengeType;
  token: string;
  keyAuthorization: string;
}

/** Resolves when the challenge is met; rejects with an ACME problem saying why not. */
export type ChallengeValidator = (req: ValidationRequest) => Promise<void>;

export interface ValidationConfig {
  httpPort: number;
  tlsPort: number;
  /** HOST:PORT of the DNS server to ask, else the system resolver */
  dnsResolver?: string;
}

/** The validation authority: which port each challenge connects to and which DNS it asks. */
export function challengeValidator(cfg: ValidationConfig): ChallengeValidator {
  const resolver = makeResolver(cfg.dnsResolver);
  return async ({ identifier, type, token, keyAuthorization }) => {
    if (type === "dns-01") return dns01(identifier, resolver, keyAuthorization);
    const addresses = await resolver.addresses(identifier);
    let last: unknown = connectionProblem(`no address for ${identifier.value}`);
    // Each address in turn; the first that answers correctly wins, as a client would connect.
    for (const address of addresses.slice(0, 4)) {
      try {
        if (type === "http-01") {
          const opts = { httpPort: cfg.httpPort, tlsPort: cfg.tlsPort, resolver };
          return await http01(identifier, address, opts, token, keyAuthorization);
        }
        return await tlsAlpn01(identifier, address, cfg.tlsPort, keyAuthorization);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };
}
