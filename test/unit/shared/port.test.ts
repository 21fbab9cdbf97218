import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InputError } from "../../../shared/errors.js";
import { hostPort, portNumber } from "../../../shared/port.js";

const refused = (f: () => unknown, message: string) =>
  assert.throws(f, (e: unknown) => e instanceof InputError && e.message === message);

describe("port numbers", () => {
  test("1 to 65535; 0 only where it means any free port", () => {
    assert.equal(portNumber("--p", "1"), 1);
    assert.equal(portNumber("--p", " 65535 "), 65535);
    assert.equal(portNumber("--listen", "0", true), 0);
    refused(() => portNumber("--p", "0"), "--p: port 0 is out of range (1-65535)");
    refused(() => portNumber("--p", "65536"), "--p: port 65536 is out of range (1-65535)");
    refused(
      () => portNumber("--listen", "99999", true),
      "--listen: port 99999 is out of range (0-65535, 0 for any free port)",
    );
    for (const bad of ["", "x", "-1", "1.5", "1e3", "0x50"]) {
      refused(() => portNumber("--p", bad), `--p: "${bad}" is not a port number (1-65535)`);
    }
  });
});

describe("HOST:PORT flags", () => {
  test("the port is required and in range", () => {
    assert.deepEqual(hostPort("--verify", "10.0.0.5:5000", "e"), { host: "10.0.0.5", port: 5000 });
    assert.deepEqual(hostPort("--verify", "[fd00::1]:443", "e"), { host: "fd00::1", port: 443 });
    refused(() => hostPort("--verify", "h:99999", "e"), "--verify: port 99999 is out of range (1-65535)");
    refused(() => hostPort("--verify", "h:", "e"), '--verify: "" is not a port number (1-65535)');
    refused(
      () => hostPort("--verify", "h", "10.0.0.5:5000"),
      '--verify: "h" is not HOST:PORT; e.g. 10.0.0.5:5000',
    );
  });
});
