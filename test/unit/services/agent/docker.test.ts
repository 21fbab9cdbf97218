import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dockerEndpoint } from "../../../../services/agent/actions/docker.js";

describe("DOCKER_HOST", () => {
  test("unset or empty is the default socket", () => {
    assert.deepEqual(dockerEndpoint(undefined), { socketPath: "/var/run/docker.sock" });
    assert.deepEqual(dockerEndpoint("  "), { socketPath: "/var/run/docker.sock" });
  });

  test("unix:// URLs and bare paths are sockets; tcp:// and http:// are TCP, 2375 by default", () => {
    assert.deepEqual(dockerEndpoint("unix:///run/user/1000/docker.sock"), {
      socketPath: "/run/user/1000/docker.sock",
    });
    assert.deepEqual(dockerEndpoint("/var/run/docker.sock"), { socketPath: "/var/run/docker.sock" });
    assert.deepEqual(dockerEndpoint("tcp://10.0.0.5:2376"), { host: "10.0.0.5", port: 2376 });
    assert.deepEqual(dockerEndpoint("http://docker.lan"), { host: "docker.lan", port: 2375 });
  });

  test("anything else is refused with the forms it takes", () => {
    assert.throws(
      () => dockerEndpoint("ssh://me@host"),
      /unsupported DOCKER_HOST "ssh:\/\/me@host": use unix:\/\/\/path/,
    );
    assert.throws(() => dockerEndpoint("docker.sock"), /unsupported DOCKER_HOST/);
  });
});
