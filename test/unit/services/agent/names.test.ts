import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dnsNameText, ipAddressText } from "../../../../services/agent/names.js";
import { InputError } from "../../../../shared/errors.js";

describe("--dns and --ip on the agent's command line", () => {
  test("a DNS name is lowered, loses a final dot, and may be a wildcard (for ACME CAs that issue them)", () => {
    assert.equal(dnsNameText(" Registry.LAN. "), "registry.lan");
    assert.equal(dnsNameText("*.Apps.lan"), "*.apps.lan");
  });

  test("the CA's own check refuses what the CA would refuse, before a key is made", () => {
    for (const bad of [
      "10.0.0.5",
      "reg_istry.lan",
      "-x.lan",
      "a..lan",
      `${"a".repeat(64)}.lan`,
      "*.*.lan",
      "",
    ]) {
      assert.throws(() => dnsNameText(bad), InputError, bad);
    }
  });

  test("an IP address loses its brackets and must be one", () => {
    assert.equal(ipAddressText("[fd00::5]"), "fd00::5");
    assert.throws(() => ipAddressText("10.0.0"), InputError);
  });
});
