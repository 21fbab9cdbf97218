import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import type { AccountRecord } from "../../../../../../services/ca/core/acme/types.js";
import { accountKeyCache } from "../../../../../../services/ca/http/acme/account-keys.js";

function account(id: string, thumbprint = `tp-${id}`): AccountRecord {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    id,
    thumbprint,
    jwk: publicKey.export({ format: "jwk" }) as Record<string, unknown>,
    status: "valid",
    contact: [],
    eabKid: "",
    createdAt: 0,
  };
}

describe("the ACME account-key cache", () => {
  test("an account's key is imported once and then served from the cache; a key change is a new entry", async () => {
    const keys = accountKeyCache();
    const a = account("a");
    const first = await keys.get(a, "ES256");
    assert.equal(await keys.get(a, "ES256"), first, "the same imported key, not a second import");
    const rolled = account("a", "tp-new");
    assert.notEqual(await keys.get(rolled, "ES256"), first);
  });

  test("beyond its size the oldest key goes first", async () => {
    const keys = accountKeyCache(2);
    const [a, b, c] = [account("a"), account("b"), account("c")];
    const ka = await keys.get(a, "ES256");
    const kb = await keys.get(b, "ES256");
    await keys.get(c, "ES256");
    assert.equal(await keys.get(b, "ES256"), kb, "b was kept");
    assert.notEqual(await keys.get(a, "ES256"), ka, "a was dropped and imported again");
  });

  test("two caches (two apps in one process) share nothing", async () => {
    const a = account("a");
    const one = accountKeyCache();
    const two = accountKeyCache();
    assert.notEqual(await one.get(a, "ES256"), await two.get(a, "ES256"));
  });
});
