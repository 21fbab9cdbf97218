import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeHosts, parseHostsEntry } from "../../../../services/agent/actions/hosts.js";

const BASE = "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n# a comment\n";

describe("--hosts NAME=IP", () => {
  test("parses names and IPv4/IPv6 addresses; names are lower-cased", () => {
    assert.deepEqual(parseHostsEntry("Registry.LAN=10.0.0.5"), { name: "registry.lan", ip: "10.0.0.5" });
    assert.deepEqual(parseHostsEntry("registry.lan=fd00::5"), { name: "registry.lan", ip: "fd00::5" });
    for (const bad of [
      "registry.lan",
      "registry.lan=",
      "=10.0.0.5",
      "registry.lan=10.0.0",
      "a b=10.0.0.5",
      "10.0.0.1=10.0.0.5",
      "-x.lan=10.0.0.5",
    ]) {
      assert.throws(() => parseHostsEntry(bad), RangeError, bad);
    }
  });
});

describe("the managed hosts lines", () => {
  const e = (name: string, ip: string) => ({ name, ip });

  test("a new name is appended with the marker; other lines are untouched", () => {
    const r = mergeHosts(BASE, [e("registry.lan", "10.0.0.5")]);
    assert.equal(r.content, `${BASE}10.0.0.5 registry.lan # certyard\n`);
    assert.deepEqual(r.warnings, []);
  });

  test("a second run with the same entries returns the very same text", () => {
    const once = mergeHosts(BASE, [e("registry.lan", "10.0.0.5"), e("mirror.lan", "fd00::7")]).content;
    const twice = mergeHosts(once, [e("registry.lan", "10.0.0.5"), e("mirror.lan", "fd00::7")]);
    assert.equal(twice.content, once);
  });

  test("an up-to-date file without a final newline is left byte for byte", () => {
    const text = "127.0.0.1 localhost\n10.0.0.5 registry.lan # certyard";
    assert.equal(mergeHosts(text, [e("registry.lan", "10.0.0.5")]).content, text);
  });

  test("a previous certyard line for the name is replaced where it stands", () => {
    const text = `${BASE}10.0.0.4 registry.lan # certyard\n192.168.1.1 router\n`;
    assert.equal(
      mergeHosts(text, [e("registry.lan", "10.0.0.5")]).content,
      `${BASE}10.0.0.5 registry.lan # certyard\n192.168.1.1 router\n`,
    );
  });

  test("duplicate certyard lines for the name collapse into one; other names' lines stay", () => {
    const text = `10.0.0.4 registry.lan # certyard\n10.0.0.9 other.lan # certyard\n10.0.0.3 registry.lan   #certyard\n`;
    assert.equal(
      mergeHosts(text, [e("registry.lan", "10.0.0.5")]).content,
      "10.0.0.5 registry.lan # certyard\n10.0.0.9 other.lan # certyard\n",
    );
  });

  test("a line that maps the name without the marker is never touched, and earns a warning when it comes first", () => {
    const text = "10.0.0.9 registry.lan\n";
    const r = mergeHosts(text, [e("registry.lan", "10.0.0.5")]);
    assert.equal(r.content, "10.0.0.9 registry.lan\n10.0.0.5 registry.lan # certyard\n");
    assert.deepEqual(r.warnings, [
      "line 1 maps registry.lan to 10.0.0.9 first, so the certyard line has no effect",
    ]);
  });

  test("a comment mentioning certyard in the middle of a line does not make it ours", () => {
    const text = "10.0.0.9 registry.lan # certyard used to manage this, do not touch\n";
    assert.match(
      mergeHosts(text, [e("registry.lan", "10.0.0.5")]).content,
      /^10\.0\.0\.9 registry\.lan # certyard used/,
    );
  });

  test("an empty or missing file gets just the managed lines", () => {
    assert.equal(
      mergeHosts("", [e("registry.lan", "10.0.0.5")]).content,
      "10.0.0.5 registry.lan # certyard\n",
    );
  });
});
