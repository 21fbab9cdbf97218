import type { ChallengeType, Identifier } from "../../../../shared/acme/types.js";
import type { Logger } from "../../../../shared/log.js";
import { connectionProblem, isAcmeProblem } from "../../../../shared/problem.js";
import { addressPolicy } from "./addresses.js";

export { listenAddresses, thisMachine } from "./addresses.js";

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
  /** --acme-validation-allow: CIDRs validation may connect to although refused by default */
  allow?: readonly string[];
  /** the CA's own listen addresses, refused unless allowed */
  ownAddresses?: readonly string[];
  /** where the reason behind a failure goes (the client gets a fixed detail); default: nowhere */
  log?: Logger;
}

/**
 * The validation authority: which port each challenge connects to, which DNS it asks, and which
 * addresses it may connect to (addresses.ts). dns-01 only asks the resolver, and connects nowhere
 * the client names.
 */
export function challengeValidator(cfg: ValidationConfig): ChallengeValidator {
  const resolver = makeResolver(cfg.dnsResolver);
  const mayConnect = addressPolicy({ allow: cfg.allow, own: cfg.ownAddresses });
  const check = async ({ identifier, type, token, keyAuthorization }: ValidationRequest) => {
    if (type === "dns-01") return dns01(identifier, resolver, keyAuthorization);
    const addresses = await resolver.addresses(identifier);
    // Every address the name has is checked before any is connected to, and the connection goes
    // to the checked address itself (no second lookup a rebinding DNS server could answer).
    const refused = addresses.find((a) => !mayConnect(a));
    if (refused !== undefined) throw connectionProblem(`address ${refused} is not allowed for validation`);
    let last: unknown = connectionProblem(`no address for ${identifier.value}`);
    // Each address in turn; the first that answers correctly wins, as a client would connect.
    for (const address of addresses.slice(0, 4)) {
      try {
        if (type === "http-01") {
          const opts = { httpPort: cfg.httpPort, tlsPort: cfg.tlsPort, resolver, mayConnect };
          return await http01(identifier, address, opts, token, keyAuthorization);
        }
        return await tlsAlpn01(identifier, address, cfg.tlsPort, keyAuthorization);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };
  return async (req) => {
    try {
      await check(req);
    } catch (e) {
      // anything else is a bug, which authorizations.ts logs as one
      if (isAcmeProblem(e))
        cfg.log?.info(
          { identifier: req.identifier, challenge: req.type, detail: e.message, cause: e.cause },
          "ACME validation failed",
        );
      throw e;
    }
  };
}
