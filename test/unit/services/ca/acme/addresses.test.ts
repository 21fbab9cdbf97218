import assert from "node:assert/strict";
import { test } from "node:test";
import { addressPolicy, listenAddresses } from "../../../../../services/ca/acme/validate/addresses.js";

test("validation refuses loopback, 0.0.0.0/8, link-local, multicast and the CA's own addresses; the LAN is allowed", () => {
  const mayConnect = addressPolicy({ own: ["192.168.1.10", "fd00::10"] });
  const refused = [
    "127.0.0.1",
    "127.255.0.9",
    "0.0.0.0",
    "0.1.2.3",
    "169.254.169.254",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "fe80::1",
    "febf::1",
    "ff02::1",
    "192.168.1.10",
    "::ffff:192.168.1.10",
    "fd00:0::10",
    "not an address",
  ];
  for (const a of refused) assert.equal(mayConnect(a), false, a);
  const allowed = [
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.11",
    "100.64.0.1",
    "8.8.8.8",
    "fd00::1",
    "2001:db8::1",
  ];
  for (const a of allowed) assert.equal(mayConnect(a), true, a);
});

test("--acme-validation-allow lets through what it names, and nothing more", () => {
  const mayConnect = addressPolicy({ allow: ["127.0.0.0/8", "fe80::1"], own: ["127.0.0.1"] });
  for (const a of ["127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1", "fe80::1"])
    assert.equal(mayConnect(a), true, a);
  for (const a of ["::1", "169.254.169.254", "fe80::2", "0.0.0.0"]) assert.equal(mayConnect(a), false, a);
});

test("the CA's own addresses: every interface's on a wildcard, else the one it listens on", async () => {
  const os = {
    interfaces: () => ["127.0.0.1", "192.168.1.10", "::1", "fe80::1"],
    resolve: async (name: string) =>
      name === "ca.lan" ? ["192.168.1.10"] : Promise.reject(new Error("NXDOMAIN")),
  };
  for (const wildcard of ["0.0.0.0", "::", ""]) {
    assert.deepEqual(await listenAddresses(wildcard, os), ["127.0.0.1", "192.168.1.10", "::1", "fe80::1"]);
  }
  assert.deepEqual(await listenAddresses("10.0.0.2", os), ["10.0.0.2"]);
  assert.deepEqual(await listenAddresses("ca.lan", os), ["192.168.1.10"]);
  assert.deepEqual(await listenAddresses("gone.lan", os), []);
  // a CA on 0.0.0.0 does not validate on its own LAN address unless allowed
  const mayConnect = addressPolicy({ own: await listenAddresses("0.0.0.0", os) });
  assert.equal(mayConnect("192.168.1.10"), false);
  assert.equal(mayConnect("192.168.1.11"), true);
});
