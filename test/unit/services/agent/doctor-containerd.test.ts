import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  containerdLines,
  criConfigPath,
  inspectContainerd,
} from "../../../../services/agent/doctor/containerd.js";

describe("doctor on containerd's config_path", () => {
  test("reads config_path from the CRI registry table of containerd 1.x and 2.x, in each way TOML writes it", () => {
    const v2 =
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n';
    assert.equal(criConfigPath(v2), "/etc/containerd/certs.d");
    const v3 = "version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\nconfig_path = '/a:/b' # two\n";
    assert.equal(criConfigPath(v3), "/a:/b");
    const dotted = '[plugins."io.containerd.grpc.v1.cri"]\n  registry.config_path = "/x"\n';
    assert.equal(criConfigPath(dotted), "/x");
    const nested =
      '[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".registry]\n      config_path = ""\n';
    assert.equal(criConfigPath(nested), null, "empty is unset");
    const elsewhere =
      '[plugins."io.containerd.grpc.v1.cri".cni]\n  config_path = "/nope"\n# config_path = "/commented"\n';
    assert.equal(criConfigPath(elsewhere), null);
    assert.equal(criConfigPath(""), null);
  });

  test("the advice: set and with a hosts.toml, set without one, unset on 1.x, unset on 2.x", () => {
    const target = "10.0.0.5:5000";
    const base = { configFile: "/etc/containerd/config.toml", major: 1 };
    const set = '[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/containerd/certs.d"\n';
    assert.deepEqual(
      containerdLines(
        { ...base, config: set, hostsTomls: ["/etc/containerd/certs.d/10.0.0.5:5000/hosts.toml"] },
        target,
        "/etc/containerd/certs.d",
      ),
      [
        'containerd: /etc/containerd/config.toml sets the CRI registry config_path to "/etc/containerd/certs.d": containerd reads HOST:PORT/hosts.toml there on every pull, without a restart; /etc/containerd/certs.d/10.0.0.5:5000/hosts.toml is there',
      ],
    );
    assert.match(
      containerdLines({ ...base, config: set, hostsTomls: [] }, target, "/etc/containerd/certs.d")[0] ?? "",
      /there is no 10\.0\.0\.5:5000\/hosts\.toml in it yet; fix: certyard-agent trust --registry 10\.0\.0\.5:5000$/,
    );
    assert.deepEqual(
      containerdLines(
        { ...base, config: "version = 2\n", hostsTomls: [] },
        target,
        "/etc/containerd/certs.d",
      ),
      [
        "containerd: /etc/containerd/config.toml does not set the CRI registry config_path, so Kubernetes pulls through containerd ignore /etc/containerd/certs.d (ctr --hosts-dir and nerdctl read it all the same)",
        '  fix: add config_path = "/etc/containerd/certs.d" under [plugins."io.containerd.grpc.v1.cri".registry] in /etc/containerd/config.toml and restart containerd once; from then on it reads hosts.toml without a restart',
      ],
    );
    assert.match(
      containerdLines(
        { ...base, major: 2, config: null, hostsTomls: [] },
        target,
        "/etc/containerd/certs.d",
      )[0] ?? "",
      /does not set the CRI registry config_path; containerd 2 then reads \/etc\/containerd\/certs\.d and \/etc\/docker\/certs\.d on every pull/,
    );
  });

  test("on disk: nothing when containerd is not installed; the config and the hosts.toml read when it is", () => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-containerd-doctor-"));
    try {
      const config = join(dir, "config.toml");
      const o = { target: "registry.lan:5000", containerdConfig: config, pathEnv: "" };
      assert.equal(inspectContainerd(o), null);
      writeFileSync(
        config,
        `[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "${dir}/none:${dir}/certs.d"\n`,
      );
      assert.deepEqual(inspectContainerd(o), {
        configFile: config,
        config: `[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "${dir}/none:${dir}/certs.d"\n`,
        major: null,
        hostsTomls: [],
      });
      mkdirSync(join(dir, "certs.d", "registry.lan:5000"), { recursive: true });
      writeFileSync(join(dir, "certs.d", "registry.lan:5000", "hosts.toml"), "");
      assert.deepEqual(inspectContainerd(o)?.hostsTomls, [
        join(dir, "certs.d", "registry.lan:5000", "hosts.toml"),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
