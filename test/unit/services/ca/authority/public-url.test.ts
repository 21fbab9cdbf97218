import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { guessPublicHost, withUrlHost } from "../../../../../services/ca/authority/serving.js";

const names = (dns: string[], ips: string[]) => ({ dns, ips });

describe("the public URL serve guesses without --url", () => {
  test("the host name, when it resolves to an address other hosts can reach", () => {
    assert.equal(
      guessPublicHost(names(["ca.lan", "localhost"], ["127.0.0.1", "10.0.0.4"]), ["10.0.0.4"]),
      "ca.lan",
    );
  });

  test("else this host's first reachable address, IPv4 first: a name only /etc/hosts maps to 127.0.1.1 is no use elsewhere", () => {
    const n = names(
      ["vm", "localhost"],
      ["127.0.0.1", "::1", "fe80::1", "169.254.0.9", "fd00::4", "10.0.0.4"],
    );
    assert.equal(guessPublicHost(n, ["127.0.1.1"]), "10.0.0.4");
    assert.equal(guessPublicHost(n, []), "10.0.0.4");
    assert.equal(guessPublicHost(names(["vm"], ["127.0.0.1", "fd00::4"]), []), "fd00::4");
  });

  test("a host with loopback alone keeps its first name", () => {
    assert.equal(guessPublicHost(names(["vm", "localhost"], ["127.0.0.1", "::1"]), ["127.0.1.1"]), "vm");
    assert.equal(guessPublicHost(names([], ["127.0.0.1"]), []), "127.0.0.1");
  });
});

describe("the serving certificate carries the public URL's host", () => {
  test("a DNS name or an address is added once, in canonical form", () => {
    const n = names(["ca", "localhost"], ["127.0.0.1"]);
    assert.deepEqual(
      withUrlHost(n, "https://Registry.LAN:8443"),
      names(["ca", "localhost", "registry.lan"], ["127.0.0.1"]),
    );
    assert.deepEqual(
      withUrlHost(n, "https://10.0.0.4:8443"),
      names(["ca", "localhost"], ["127.0.0.1", "10.0.0.4"]),
    );
    assert.deepEqual(withUrlHost(n, "https://[fd00:0::4]:8443").ips, ["127.0.0.1", "fd00::4"]);
    assert.equal(withUrlHost(n, "https://localhost:8443"), n);
    assert.equal(withUrlHost(n, "https://127.0.0.1:8443"), n);
  });
});
