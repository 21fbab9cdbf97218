import type { JWK } from "jose";
import type { ChallengeType } from "../../../shared/acme/types.js";
import { isAcmeProblem, malformed, notFound, unauthorized } from "../../../shared/problem.js";
import { afterValidation, authzStatus, mayStartValidation } from "../core/acme/state.js";
import type { AccountRecord, AuthzRecord, ChallengeRecord } from "../core/acme/types.js";
import type { AcmeDeps } from "./deps.js";
import { thumbprint } from "./eab.js";

/** RFC 8555 7.5 authorizations and their challenges; validation itself is deps.validate (8). */
export function authorizationService(deps: AcmeDeps) {
  const { store } = deps;

  /** Runs one validation and stores its outcome (RFC 8555 8). Never rejects. */
  async function validate(
    authz: AuthzRecord,
    type: ChallengeType,
    keyAuthorization: string,
  ): Promise<AuthzRecord> {
    const token = authz.challenges.find((ch) => ch.type === type)?.token ?? "";
    let next: AuthzRecord;
    try {
      await deps.validate({ identifier: authz.identifier, type, token, keyAuthorization });
      next = afterValidation(authz, type, { ok: true, at: deps.clock() });
    } catch (e) {
      const error = isAcmeProblem(e)
        ? { ...e.toAcmeJSON(), identifier: authz.identifier }
        : { type: "urn:ietf:params:acme:error:serverInternal", detail: "validation failed", status: 500 };
      if (!isAcmeProblem(e)) deps.log.error({ err: e }, "ACME validation error");
      next = afterValidation(authz, type, { ok: false, error: error as Record<string, unknown> });
    }
    try {
      await store.authzs.save(next);
    } catch (err) {
      deps.log.error({ err }, "ACME: storing a validation result failed");
    }
    return next;
  }

  return {
    /** The authorization, if it is the account's (404 when there is none, 403 when another's). */
    async own(id: string, accountId: string): Promise<AuthzRecord> {
      const authz = await store.authzs.byId(id);
      if (!authz) throw notFound(`no authorization ${id}`);
      if (authz.accountId !== accountId) throw unauthorized("the authorization belongs to another account");
      return authz;
    },

    /** 7.5.2: a pending or valid authorization may be deactivated. */
    async deactivate(authz: AuthzRecord): Promise<AuthzRecord> {
      const s = authzStatus(authz, deps.clock());
      if (s !== "pending" && s !== "valid") throw malformed(`a ${s} authorization cannot be deactivated`);
      const next: AuthzRecord = { ...authz, status: "deactivated" };
      await store.authzs.save(next);
      return next;
    },

    /**
     * 7.5.1: the client answers a challenge. Validation starts at once when the challenge and its
     * authorization are pending, and the answer waits for it up to limits.validationWaitMs; a
     * challenge already processing, valid or invalid is returned as it is. `start` false (a
     * POST-as-GET) only reads it.
     */
    async respond(
      authz: AuthzRecord,
      typeName: string,
      account: AccountRecord,
      start: boolean,
    ): Promise<{ authz: AuthzRecord; challenge: ChallengeRecord }> {
      const type = typeName as ChallengeType;
      const challenge = authz.challenges.find((ch) => ch.type === type);
      if (!challenge) throw notFound(`no ${typeName} challenge in this authorization`);
      if (!start || !mayStartValidation(authzStatus(authz, deps.clock()), challenge))
        return { authz, challenge };
      const processing: AuthzRecord = {
        ...authz,
        challenges: authz.challenges.map((ch) => (ch === challenge ? { ...ch, status: "processing" } : ch)),
      };
      await store.authzs.save(processing);
      const keyAuthorization = `${challenge.token}.${await thumbprint(account.jwk as JWK)}`;
      const done = validate(processing, type, keyAuthorization);
      const timeout = new Promise<null>((r) =>
        setTimeout(() => r(null), deps.limits.validationWaitMs).unref(),
      );
      const next = (await Promise.race([done, timeout])) ?? processing;
      return { authz: next, challenge: next.challenges.find((ch) => ch.type === type) ?? challenge };
    },
  };
}
