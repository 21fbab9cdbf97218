import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError } from "../../../shared/errors.js";
import { httpsUrl } from "../../../shared/url.js";

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
