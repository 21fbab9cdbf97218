import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildChain, diagnose, dockerTrustFinding } from "../../../../services/agent/doctor/diagnose.js";
import { formatGoIp, subjectAltNames } from "../../../../services/agent/doctor/sans.js";
import type { IssuedCertificate as Issued } from "../../../../shared/api.js";
import { certificatesFromPem } from "../../../../shared/x509/pem.js";
import { startCa, type TestCa } from "../../../helpers/ca.js";
import { makeCsr } from "../../../helpers/openssl.js";

const der = (pem: string) => {
  const [d] = certificatesFromPem(pem);
  assert.ok(d, "a certificate");
  return d;
};

/** A self-signed certificate made by openssl, with extra -addext values. */
function selfSigned(subject: string, addext: string[]): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "certyard-self-"));
  try {
    const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    args.push("-keyout", join(dir, "k"), "-out", join(dir, "c"), "-subj", subject, "-days", "2");
    for (const e of addext) args.push("-addext", e);
    execFileSync("openssl", args, { stdio: "ignore" });
    return der(readFileSync(join(dir, "c"), "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rfc3339 = (iso: string) => new Date(iso).toISOString().replace(/\.\d{3}Z$/, "Z");
const UNKNOWN = "x509: certificate signed by unknown authority";

describe("diagnose(): what Docker (Go's crypto/x509) says, with certificates from the real CA", () => {
  let ca: TestCa;
  let token: string;
  let root: Buffer;
  let intermediate: Buffer;
  /** certificates are made during the tests; "now" is after each was made */
  let now: Date;

  async function issue(san: string[], validity?: string, from: TestCa = ca, tok = token): Promise<Issued> {
    const csr = makeCsr({ san });
    const res = await from.request("/v1/sign", { body: { csr: csr.csrPem, validity }, token: tok });
    assert.equal(res.status, 201, res.body.toString());
    return res.json<Issued>();
  }
  const chainOf = (i: Issued) => [der(i.certificate), der(i.chain)];

  before(async () => {
    ca = await startCa();
    token = await ca.createToken({ name: "doctor", dns: ["*.lan"], ip: ["10.0.0.0/24", "fd00::/64"] });
    root = der(ca.rootPem);
    const sample = await issue(["DNS:registry.lan"]);
    intermediate = der(sample.chain);
    now = new Date();
  });
  after(() => ca.close());

  test("a full chain for the name and the address: no findings", async () => {
    const leaf = await issue(["DNS:registry.lan", "IP:10.0.0.5", "IP:fd00::5"]);
    for (const target of [
      "registry.lan:5000",
      "REGISTRY.lan:5000",
      "10.0.0.5:5000",
      "[fd00::5]:5000",
      "registry.lan",
    ]) {
      assert.deepEqual(diagnose(chainOf(leaf), [root], target, now), [], target);
    }
    const chain = buildChain(chainOf(leaf), [root], now);
    assert.equal(chain.anchored, true);
    assert.equal(chain.path.length, 3);
  });

  test("an address the certificate lacks, when it has no IP SANs at all", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    const [f, ...rest] = diagnose(chainOf(leaf), [root], "10.0.0.5:5000", now);
    assert.deepEqual(rest, []);
    assert.equal(f?.code, "no-ip-san");
    assert.equal(
      f?.dockerMessage,
      "x509: cannot validate certificate for 10.0.0.5 because it doesn't contain any IP SANs",
    );
    assert.match(f?.explanation ?? "", /only DNS names \(registry\.lan\)/);
    assert.match(f?.fix ?? "", /certyard-agent cert .* --ip 10\.0\.0\.5/);
  });

  test("a DNS name the certificate lacks: Go lists the DNS names it has", async () => {
    const leaf = await issue(["DNS:a.lan", "DNS:b.lan", "IP:10.0.0.6"]);
    const [f] = diagnose(chainOf(leaf), [root], "c.lan:5000", now);
    assert.equal(f?.code, "name-mismatch");
    assert.equal(f?.dockerMessage, "x509: certificate is valid for a.lan, b.lan, not c.lan");
    assert.match(f?.fix ?? "", /--dns c\.lan/);
  });

  test("an address the certificate lacks: Go lists its IP SANs in net.IP form", async () => {
    const leaf = await issue(["DNS:a.lan", "IP:10.0.0.6", "IP:fd00::6"]);
    assert.equal(
      diagnose(chainOf(leaf), [root], "10.0.0.5:5000", now)[0]?.dockerMessage,
      "x509: certificate is valid for 10.0.0.6, fd00::6, not 10.0.0.5",
    );
    const [f] = diagnose(chainOf(leaf), [root], "[fd00::5]:5000", now);
    assert.equal(f?.dockerMessage, "x509: certificate is valid for 10.0.0.6, fd00::6, not fd00::5");
    assert.match(f?.fix ?? "", /--ip fd00::5/);
  });

  test("expired: 'current time ... is after ...' in RFC 3339, and re-enrolment as the fix", async () => {
    const leaf = await issue(["DNS:registry.lan"], "1h");
    const later = new Date(Date.parse(leaf.notAfter) + 1000);
    const [f] = diagnose(chainOf(leaf), [root], "registry.lan:5000", later);
    assert.equal(f?.code, "expired");
    assert.equal(
      f?.dockerMessage,
      `x509: certificate has expired or is not yet valid: current time ${rfc3339(later.toISOString())} is after ${rfc3339(leaf.notAfter)}`,
    );
    assert.match(f?.fix ?? "", /re-enrol.*certyard-agent cert/);
    assert.deepEqual(
      diagnose(chainOf(leaf), [root], "registry.lan:5000", new Date(Date.parse(leaf.notAfter))),
      [],
    );
  });

  test("not yet valid: 'is before', and renew --force once the clocks agree", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    const earlier = new Date(Date.parse(leaf.notBefore) - 60_000);
    const [f] = diagnose(chainOf(leaf), [root], "registry.lan:5000", earlier);
    assert.equal(f?.code, "not-yet-valid");
    assert.equal(
      f?.dockerMessage,
      `x509: certificate has expired or is not yet valid: current time ${rfc3339(earlier.toISOString())} is before ${rfc3339(leaf.notBefore)}`,
    );
    assert.match(f?.fix ?? "", /certyard-agent renew --force/);
  });

  test("findings come in Go's order: validity, then the name, then the chain", async () => {
    const leaf = await issue(["DNS:a.lan"], "1h");
    const later = new Date(Date.parse(leaf.notAfter) + 1000);
    const codes = diagnose([der(leaf.certificate)], [root], "10.0.0.5:5000", later).map((f) => f.code);
    assert.deepEqual(codes, ["expired", "no-ip-san", "incomplete-chain"]);
  });

  test("the server sends only the leaf: unknown authority, explained as the missing intermediate", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    const [f, ...rest] = diagnose([der(leaf.certificate)], [root], "registry.lan:5000", now);
    assert.deepEqual(rest, []);
    assert.equal(f?.code, "incomplete-chain");
    assert.equal(f?.dockerMessage, UNKNOWN);
    assert.match(f?.explanation ?? "", /only the leaf, issued by "CN=Test Intermediate CA"/);
    assert.match(f?.fix ?? "", /full chain/);
  });

  test("a chain that leads to another root: unknown authority", async () => {
    const stranger = selfSigned("/CN=Some Other Root", ["basicConstraints=critical,CA:TRUE"]);
    const leaf = await issue(["DNS:registry.lan"]);
    const now = new Date();
    const [f] = diagnose(chainOf(leaf), [stranger], "registry.lan:5000", now);
    assert.equal(f?.code, "unknown-authority");
    assert.equal(f?.dockerMessage, UNKNOWN);
    assert.match(f?.explanation ?? "", /leads to "CN=Test Root CA"/);
    assert.match(f?.fix ?? "", /reissue/);
    const withRoot = diagnose([...chainOf(leaf), root], [stranger], "registry.lan:5000", now, {
      rootsFrom: "docker-certs",
    });
    assert.match(withRoot[0]?.explanation ?? "", /ends at the root "Test Root CA"/);
    assert.match(withRoot[0]?.fix ?? "", /certyard-agent trust --registry registry\.lan:5000/);
  });

  test("a CA of the same name but another key (a re-initialised CA): Go's hint names the candidate", async () => {
    const other = await startCa();
    try {
      const t = await other.createToken({ name: "x", dns: ["*.lan"] });
      const leaf = await issue(["DNS:registry.lan"], undefined, other, t);
      const [f] = diagnose(chainOf(leaf), [root], "registry.lan:5000", now);
      assert.equal(f?.code, "unknown-authority");
      assert.equal(
        f?.dockerMessage,
        `${UNKNOWN} (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Test Root CA")`,
      );
      assert.match(f?.explanation ?? "", /another CA of the same name/);
    } finally {
      await other.close();
    }
  });

  test("an expired intermediate: unknown authority with the expiry as Go's hint", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    // the intermediate lasts 10 years, the root 20
    const inElevenYears = new Date(Date.now() + 11 * 365 * 86_400_000);
    const f = diagnose(chainOf(leaf), [root], "registry.lan:5000", inElevenYears).find(
      (x) => x.code === "unknown-authority",
    );
    assert.match(
      f?.dockerMessage ?? "",
      /^x509: certificate signed by unknown authority \(possibly because of "x509: certificate has expired or is not yet valid: current time .* is after .*" while trying to verify candidate authority certificate "Test (Intermediate|Root) CA"\)$/,
    );
  });

  test("a self-signed leaf", () => {
    const self = selfSigned("/CN=registry.lan", ["subjectAltName=DNS:registry.lan"]);
    const now = new Date();
    const [f, ...rest] = diagnose([self], [root], "registry.lan:5000", now);
    assert.deepEqual(rest, []);
    assert.equal(f?.code, "self-signed");
    assert.equal(f?.dockerMessage, UNKNOWN);
    assert.match(f?.explanation ?? "", /self-signed/);
    assert.deepEqual(diagnose([self], [self], "registry.lan:5000", now), [], "trusted when pinned as a root");
  });

  test("a certificate that relies on its CN, and one without serverAuth", () => {
    const cnOnly = selfSigned("/CN=registry.lan", []);
    const clientOnly = selfSigned("/CN=x", [
      "subjectAltName=DNS:registry.lan",
      "extendedKeyUsage=clientAuth",
    ]);
    const now = new Date();
    assert.equal(
      diagnose([cnOnly], [cnOnly], "registry.lan:5000", now)[0]?.dockerMessage,
      "x509: certificate relies on legacy Common Name field, use SANs instead",
    );
    const [f] = diagnose([clientOnly], [clientOnly], "registry.lan:5000", now);
    assert.equal(f?.code, "incompatible-usage");
    assert.equal(f?.dockerMessage, "x509: certificate specifies an incompatible key usage");
  });

  test("no roots at all: unknown authority, fixed by bootstrapping and trusting", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    const [f] = diagnose(chainOf(leaf), [], "registry.lan:5000", now, { rootsFrom: "none" });
    assert.equal(f?.code, "unknown-authority");
    assert.match(f?.fix ?? "", /bootstrap .* then certyard-agent trust --registry registry\.lan:5000/);
  });

  test("Docker's own roots: the chain must anchor there too", async () => {
    const leaf = await issue(["DNS:registry.lan"]);
    assert.equal(
      dockerTrustFinding(
        chainOf(leaf),
        [root],
        "registry.lan:5000",
        now,
        "/etc/docker/certs.d/registry.lan:5000",
      ),
      null,
    );
    const f = dockerTrustFinding(
      chainOf(leaf),
      [],
      "registry.lan:5000",
      now,
      "/etc/docker/certs.d/registry.lan:5000",
    );
    assert.equal(f?.code, "not-trusted-by-docker");
    assert.equal(f?.dockerMessage, UNKNOWN);
    assert.equal(f?.fix, "certyard-agent trust --registry registry.lan:5000");
  });

  test("the intermediate the tests use is the CA's", () => {
    assert.equal(buildChain([intermediate], [root], now).anchored, true);
  });
});

describe("Go's formatting of names", () => {
  test("net.IP.String(): dotted quads, RFC 5952 for IPv6, IPv4-mapped as IPv4", () => {
    const v6 = (s: string) => {
      const groups = s.split(":").map((g) => Number.parseInt(g, 16));
      return Buffer.from(groups.flatMap((g) => [g >> 8, g & 0xff]));
    };
    assert.equal(formatGoIp(Buffer.from([10, 0, 0, 5])), "10.0.0.5");
    assert.equal(formatGoIp(v6("2001:db8:0:0:0:0:0:1")), "2001:db8::1");
    assert.equal(formatGoIp(v6("0:0:0:0:0:0:0:1")), "::1");
    assert.equal(formatGoIp(v6("0:0:0:0:0:0:0:0")), "::");
    assert.equal(formatGoIp(v6("fd00:0:0:1:0:0:0:0")), "fd00:0:0:1::");
    assert.equal(formatGoIp(v6("1:0:0:1:0:0:0:1")), "1:0:0:1::1");
    assert.equal(formatGoIp(v6("1:0:1:0:1:0:1:0")), "1:0:1:0:1:0:1:0");
    assert.equal(formatGoIp(v6("0:0:0:0:0:ffff:a00:1")), "10.0.0.1");
    assert.equal(formatGoIp(v6("FD00:0:0:0:0:0:0:5")), "fd00::5");
  });

  test("subjectAltNames reads DNS names and addresses in order", () => {
    const c = selfSigned("/CN=x", ["subjectAltName=DNS:b.lan,IP:10.0.0.1,DNS:a.lan,IP:fd00::1"]);
    assert.deepEqual(subjectAltNames(c), {
      present: true,
      dns: ["b.lan", "a.lan"],
      ips: ["10.0.0.1", "fd00::1"],
    });
    assert.deepEqual(subjectAltNames(selfSigned("/CN=x", [])), { present: false, dns: [], ips: [] });
  });
});
