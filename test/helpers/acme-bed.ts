import assert from "node:assert/strict";
import type { Logger } from "pino";
import type { AcmeLimits } from "../../services/ca/acme/limits.js";
import { type EabCreateOpts, eabCreate } from "../../services/ca/cli/eab-cmds.js";
import { TestAcmeClient } from "./acme-client.js";
import { startCa, type TestCa } from "./ca.js";
import { type Http01Responder, startHttp01Responder } from "./http01.js";

/** A real CA with its ACME server, the http-01 responder it validates against, and one EAB. */
export interface AcmeBed {
  ca: TestCa;
  responder: Http01Responder;
  kid: string;
  hmac: string;
  /** added to the CA's clock, to let orders and authorizations expire without waiting */
  offsetMs: number;
  /** a new account, registered with the EAB (which binds up to 100, unless `eab.accounts` says) */
  newClient(): Promise<TestAcmeClient>;
  close(): Promise<void>;
}

export async function startAcmeBed(o: {
  eab: Omit<EabCreateOpts, "data">;
  limits?: Partial<AcmeLimits>;
  /** --acme-validation-allow (default: loopback, where the responder is) */
  validationAllow?: string[];
  /** where the CA logs (default: nowhere) */
  log?: Logger;
  /** called before the responder answers each request */
  beforeAnswer?: () => Promise<void>;
}): Promise<AcmeBed> {
  const responder = await startHttp01Responder(o.beforeAnswer);
  const bed = { offsetMs: 0 } as AcmeBed;
  const ca = await startCa({
    clock: () => Date.now() + bed.offsetMs,
    log: o.log,
    acme: {
      httpPort: responder.port,
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.validationAllow ? { allow: o.validationAllow } : {}),
    },
  });
  // one EAB for every account the suite registers (newClient)
  const [kid = "", hmac = ""] = (await eabCreate({ ...ca.data, accounts: "100", ...o.eab })).split(" ");
  return Object.assign(bed, {
    ca,
    responder,
    kid,
    hmac,
    async newClient() {
      const client = await TestAcmeClient.create(`${ca.url}/acme/directory`, ca.rootPem);
      const res = await client.register(kid, hmac);
      assert.equal(res.status, 201, res.body.toString());
      return client;
    },
    async close() {
      await ca.close();
      responder.close();
    },
  });
}
