import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError } from "../../../shared/errors.js";
import { httpsUrl, parseUrl } from "../../../shared/url.js";

describe("httpsUrl", () => {
  test("an https URL is taken as it is", () => {
    assert.equal(httpsUrl(" https://ca.lan:8443/ ", "--ca", "https://ca.lan:8443").host, "ca.lan:8443");
  });

  test("http and other schemes are refused in one line that names the input and shows a good one", () => {
    for (const text of ["http://ca.lan:8443", "HTTP://ca.lan", "ftp://ca.lan", "ws://ca.lan"]) {
      assert.throws(
        () => httpsUrl(text, "--acme", "https://ca.lan:8443/acme/directory"),
        (e: unknown) =>
          e instanceof InputError &&
          /^--acme ".*" is \w+, not https: .* give one like https:\/\/ca\.lan:8443\/acme\/directory$/.test(
            e.message,
          ),
      );
    }
  });

  test("text that is no URL at all is refused", () => {
    assert.throws(
      () => httpsUrl("ca.lan:8443", "--ca", "https://ca.lan:8443"),
      /is (not a URL|ca\.lan, not https)/,
    );
    assert.throws(() => httpsUrl("", "--ca", "https://ca.lan:8443"), /--ca "" is not a URL/);
  });
});

describe("a port out of range in a URL", () => {
  test("is named with the input, not 'Invalid URL', also where node's parser would take it (0)", () => {
    for (const [text, port] of [
      ["https://h:99999", "99999"],
      ["https://h:65536/", "65536"],
      ["https://user:pw@h:70000/x?y#z", "70000"],
      ["https://[fd00::1]:99999", "99999"],
      ["https://10.0.0.1:0", "0"],
      ["http://h:123456", "123456"],
    ] as const) {
      assert.throws(
        () => httpsUrl(text, "--ca", "https://ca.lan:8443"),
        (e: unknown) =>
          e instanceof InputError && e.message === `--ca: port ${port} is out of range (1-65535)`,
        text,
      );
    }
  });

  test("ports in range, and none, pass", () => {
    assert.equal(httpsUrl("https://[fd00::1]:65535", "--ca", "e").port, "65535");
    assert.equal(httpsUrl("https://h:1/x", "--ca", "e").port, "1");
    assert.equal(parseUrl("http://h/", "--url", "e").port, "");
    assert.throws(
      () => parseUrl("https://h:80x", "--url", "e"),
      /^InputError: --url "https:\/\/h:80x" is not a URL/,
    );
  });
});
