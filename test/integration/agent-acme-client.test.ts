import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { newOrder } from "../../services/agent/issuers/acme/api.js";
import type { Solver } from "../../services/agent/issuers/acme/challenges.js";
import {
  type AcmeAccountOptions,
  obtainCertificate,
  openAccount,
} from "../../services/agent/issuers/acme/flow.js";
import type { AcmeError } from "../../services/agent/issuers/acme/http.js";
import { eabCreate } from "../../services/ca/cli/eab-cmds.js";
import { certIdOf } from "../../shared/acme/cert-id.js";
import type { Identifier } from "../../shared/acme/types.js";
import { decodePem } from "../../shared/x509/pem.js";
import { startCa, type TestCa } from "../helpers/ca.js";
import { type Http01Responder, startHttp01Responder } from "../helpers/http01.js";
import { makeCsr } from "../helpers/openssl.js";
import { sqlRows } from "../helpers/test-db.js";

const ERR = "urn:ietf:params:acme:error:";
const log = pino({ level: "silent" });
const LOOPBACK: Identifier[] = [{ type: "ip", value: "127.0.0.1" }];
const loopbackCsr = () => decodePem(makeCsr({ san: ["IP:127.0.0.1"] }).csrPem)[0]?.der ?? new Uint8Array();

/** The agent's ACME client (issuers/acme) against a real CA serving ACME, in process. */
describe("certyard-agent's ACME client against the real CA", () => {
  let ca: TestCa;
  let responder: Http01Responder;
  let dir: string;

  before(async () => {
    responder = await startHttp01Responder();
    ca = await startCa({ acme: { httpPort: responder.port } });
    dir = mkdtempSync(join(tmpdir(), "certyard-agent-acme-"));
  });
  after(async () => {
    await ca.close();
    responder.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A new EAB for 127.0.0.1, as the agent takes it. */
  const bind = async (name: string) => {
    const [kid = "", hmacKey = ""] = (await eabCreate({ ...ca.data, name, ip: ["127.0.0.1"] })).split(" ");
    return { kid, hmacKey };
  };
  /** The agent's account, its keys kept in a folder of its own under the test directory. */
  const open = (accounts: string, o: Pick<AcmeAccountOptions, "eab" | "eabKid">) => {
    const accountDir = join(dir, accounts);
    mkdirSync(accountDir, { recursive: true, mode: 0o700 });
    return openAccount({
      directoryUrl: `${ca.url}/acme/directory`,
      accountDir,
      caPem: ca.rootPem,
      log,
      ...o,
    });
  };
  /** http-01 answered through the responder the CA validates against, unless `present` is given. */
  const solverWith = (present?: Solver["present"]): Solver => ({
    type: "http-01",
    start: async () => {},
    present:
      present ??
      (async (_id, token, keyAuth) => {
        responder.answers.set(token, keyAuth);
      }),
    cleanup: async () => {},
    stop: async () => {},
  });

  test("an order left unfinished holds `replaces` (409 alreadyReplaced): the renewal orders without it", async () => {
    const account = await open("replaces", { eab: await bind("agent") });
    try {
      const solver = solverWith();
      const identifiers = LOOPBACK;
      const first = await obtainCertificate(account, { identifiers, csrDer: loopbackCsr(), solver, log });
      const leaf = decodePem(first)[0]?.der;
      assert.ok(leaf);
      const replaces = certIdOf(leaf);
      // an earlier renewal's order, never finished
      const stuck = await newOrder(account.session, account.dir, { identifiers, replaces });
      assert.equal(stuck.order.status, "pending");
      const again = newOrder(account.session, account.dir, { identifiers, replaces });
      await assert.rejects(again, (e: AcmeError) => e.problem?.type === `${ERR}alreadyReplaced`);
      const renewed = await obtainCertificate(account, {
        identifiers,
        csrDer: loopbackCsr(),
        solver,
        replaces,
        log,
      });
      const renewedLeaf = new X509Certificate(decodePem(renewed)[0]?.der ?? new Uint8Array());
      assert.notEqual(renewedLeaf.serialNumber, new X509Certificate(leaf).serialNumber);
    } finally {
      await account.close();
    }
  });

  test("a challenge hook that fails half-way is still cleaned up", async () => {
    const account = await open("hook", { eab: await bind("hook") });
    const calls: string[] = [];
    const solver = {
      ...solverWith(async (_id, token) => {
        calls.push(`present ${token}`);
        throw new Error("the record was made, then the hook failed");
      }),
      cleanup: async (_id: Identifier, token: string) => {
        calls.push(`cleanup ${token}`);
      },
    };
    try {
      await assert.rejects(
        obtainCertificate(account, { identifiers: LOOPBACK, csrDer: loopbackCsr(), solver, log }),
        /hook failed/,
      );
      assert.equal(calls.length, 2, calls.join("; "));
      assert.equal(calls[1], calls[0]?.replace("present", "cleanup"));
    } finally {
      await account.close();
    }
  });

  test("another EAB gets an account of its own; an account the server lost is made again", async () => {
    const kidOf = async (o: Pick<AcmeAccountOptions, "eab" | "eabKid">) => {
      const a = await open("eab", o);
      await a.close();
      return a.session.kid;
    };
    const first = await bind("first");
    const second = await bind("second");
    const a1 = await kidOf({ eab: first });
    const a2 = await kidOf({ eab: second });
    assert.ok(a1 && a2);
    assert.notEqual(a2, a1, "a second EAB is not silently the first one's account");
    // a renewal names the EAB its account was made with, and finds that account
    assert.equal(await kidOf({ eabKid: first.kid }), a1);

    // the CA loses the first account (a database restored from before it, say)
    await sqlRows(ca.dataDir, "DELETE FROM acme_accounts WHERE id = ?", [a1.split("/").pop()]);
    await assert.rejects(
      kidOf({ eabKid: first.kid }),
      /requires an External Account Binding \(it no longer knows this host's account .*\): give --eab-kid/,
    );
    const again = await kidOf({ eab: first });
    assert.ok(again && again !== a1, "registered again with the same key");
  });
});
