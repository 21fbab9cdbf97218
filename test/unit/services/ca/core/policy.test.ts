import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDnsPattern, parseIpRange } from "../../../../../services/ca/core/names.js";
import {
  BACKDATE_MS,
  backdateFor,
  type Constraints,
  checksFor,
  DEFAULT_VALIDITY_MS,
  dnsWithinSubtree,
  type Policy,
  runChecks,
  type SignRequest,
  validityFor,
  withinConstraints,
} from "../../../../../services/ca/core/policy.js";
import { Problem, type ProblemKind } from "../../../../../shared/problem.js";

const DAY = 86_400_000;

function expectProblem(fn: () => unknown, kind: ProblemKind, status: number): Problem {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Problem, `expected a ${kind} Problem, got ${String(thrown)}`);
  assert.equal(thrown.kind, kind, thrown.message);
  assert.equal(thrown.status, status);
  return thrown;
}

const policy: Policy = {
  dns: [parseDnsPattern("registry.lan"), parseDnsPattern("*.svc.lan"), parseDnsPattern("**.deep.lan")],
  ips: [parseIpRange("10.0.0.0/24"), parseIpRange("192.168.5.7"), parseIpRange("fd00::/8")],
  maxValidityMs: 90 * DAY,
};
const unconstrained: Constraints = { dns: [], ips: [] };

const req = (dns: string[], ips: string[] = [], validityMs?: number): SignRequest =>
  validityMs === undefined ? { dns, ips } : { dns, ips, validityMs };
const run = (r: SignRequest, p: Policy = policy, c: Constraints = unconstrained) =>
  runChecks(checksFor(p, c), r);

describe("policy: names a credential allows", () => {
  test("names allowed by DNS patterns and IP ranges pass", () => {
    assert.doesNotThrow(() =>
      run(req(["registry.lan", "web.svc.lan", "a.b.deep.lan"], ["10.0.0.5", "192.168.5.7", "fd12::1"])),
    );
  });

  test("DNS matching ignores case and a trailing dot", () => {
    assert.doesNotThrow(() => run(req(["REGISTRY.lan.", "Web.SVC.lan"])));
  });

  test("IPv4 range bounds", () => {
    assert.doesNotThrow(() => run(req([], ["10.0.0.0", "10.0.0.255"])));
    expectProblem(() => run(req([], ["10.0.1.0"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req([], ["192.168.5.8"])), "rejectedIdentifier", 403);
  });

  test("IPv6 ranges", () => {
    assert.doesNotThrow(() => run(req([], ["fd00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])));
    expectProblem(() => run(req([], ["fe80::1"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req([], ["2001:db8::1"])), "rejectedIdentifier", 403);
  });

  test("a DNS name outside the patterns is rejectedIdentifier (403) and names itself", () => {
    const p = expectProblem(() => run(req(["other.lan"])), "rejectedIdentifier", 403);
    assert.match(p.message, /other\.lan/);
  });

  test("one bad name among good ones rejects the request", () => {
    expectProblem(() => run(req(["registry.lan", "evil.com"], ["10.0.0.5"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req(["registry.lan"], ["10.0.0.5", "8.8.8.8"])), "rejectedIdentifier", 403);
  });

  test("one-label and any-depth patterns are enforced", () => {
    expectProblem(() => run(req(["a.b.svc.lan"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req(["svc.lan"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req(["deep.lan"])), "rejectedIdentifier", 403);
    expectProblem(() => run(req(["xregistry.lan"])), "rejectedIdentifier", 403);
  });

  test("a policy without IP ranges rejects every IP address", () => {
    const dnsOnly: Policy = { ...policy, ips: [] };
    expectProblem(() => run(req(["registry.lan"], ["10.0.0.5"]), dnsOnly), "rejectedIdentifier", 403);
  });

  test("a policy without DNS patterns rejects every DNS name", () => {
    const ipOnly: Policy = { ...policy, dns: [] };
    assert.doesNotThrow(() => run(req([], ["10.0.0.5"]), ipOnly));
    expectProblem(() => run(req(["registry.lan"]), ipOnly), "rejectedIdentifier", 403);
  });

  test("a request without names is badCSR (400), before any other check", () => {
    expectProblem(() => run(req([])), "badCSR", 400);
    expectProblem(() => run(req([], [], 1000 * DAY)), "badCSR", 400);
  });
});

describe("policy: validity", () => {
  test("from the 5m minimum up to the maximum passes", () => {
    assert.doesNotThrow(() => run(req(["registry.lan"], [], 90 * DAY)));
    assert.doesNotThrow(() => run(req(["registry.lan"], [], 5 * 60_000)));
  });

  test("under the 5m minimum is malformed: the backdating would leave it spent on arrival", () => {
    const p = expectProblem(() => run(req(["registry.lan"], [], 5 * 60_000 - 1000)), "malformed", 400);
    assert.match(p.message, /validity 4m59s is shorter than the minimum 5m/);
  });

  test("over the maximum is malformed (400)", () => {
    const p = expectProblem(() => run(req(["registry.lan"], [], 90 * DAY + 1)), "malformed", 400);
    assert.match(p.message, /maximum/);
  });

  test("zero or negative validity is malformed", () => {
    expectProblem(() => run(req(["registry.lan"], [], 0)), "malformed", 400);
    expectProblem(() => run(req(["registry.lan"], [], -DAY)), "malformed", 400);
  });
});

describe("name constraints", () => {
  const dnsLan: Constraints = { dns: ["lan"], ips: [] };

  test("a dNSName subtree allows the name itself and names under it", () => {
    const check = withinConstraints(dnsLan);
    assert.doesNotThrow(() => check(req(["lan", "x.lan", "a.b.lan", "X.LAN."])));
  });

  test("a dNSName subtree does not allow a name that merely ends with it", () => {
    const p = expectProblem(() => withinConstraints(dnsLan)(req(["xlan"])), "rejectedIdentifier", 403);
    assert.match(p.message, /name constraints/);
    expectProblem(() => withinConstraints(dnsLan)(req(["lan.com"])), "rejectedIdentifier", 403);
  });

  test("a leading dot in the subtree means the same", () => {
    assert.equal(dnsWithinSubtree("x.lan", ".lan"), true);
    assert.equal(dnsWithinSubtree("xlan", ".lan"), false);
    assert.equal(dnsWithinSubtree("a.b.corp.example", "corp.example"), true);
    assert.equal(dnsWithinSubtree("corp.example", "b.corp.example"), false);
  });

  test("IPv4 and IPv6 subtrees", () => {
    const c: Constraints = { dns: [], ips: [parseIpRange("10.0.0.0/8"), parseIpRange("fd00::/8")] };
    const check = withinConstraints(c);
    assert.doesNotThrow(() => check(req([], ["10.1.2.3", "fd12:3456::1"])));
    expectProblem(() => check(req([], ["192.168.1.1"])), "rejectedIdentifier", 403);
    expectProblem(() => check(req([], ["2001:db8::1"])), "rejectedIdentifier", 403);
  });

  test("an IPv6-only subtree excludes IPv4 addresses (same name type)", () => {
    const check = withinConstraints({ dns: [], ips: [parseIpRange("fd00::/8")] });
    expectProblem(() => check(req([], ["10.0.0.1"])), "rejectedIdentifier", 403);
  });

  test("a name type without constraints is unconstrained", () => {
    const ipOnly = withinConstraints({ dns: [], ips: [parseIpRange("10.0.0.0/8")] });
    assert.doesNotThrow(() => ipOnly(req(["anything.example.com"], ["10.9.9.9"])));
    const dnsOnly = withinConstraints(dnsLan);
    assert.doesNotThrow(() => dnsOnly(req(["x.lan"], ["8.8.8.8", "2001:db8::1"])));
    const none = withinConstraints(unconstrained);
    assert.doesNotThrow(() => none(req(["anything.example.com"], ["8.8.8.8"])));
  });

  test("checksFor applies the constraints on top of the policy", () => {
    const wide: Policy = { dns: [parseDnsPattern("**.example")], ips: [], maxValidityMs: DAY };
    const c: Constraints = { dns: ["corp.example"], ips: [] };
    assert.doesNotThrow(() => run(req(["a.corp.example"]), wide, c));
    const p = expectProblem(() => run(req(["a.other.example"]), wide, c), "rejectedIdentifier", 403);
    assert.match(p.message, /name constraints/);
  });
});

describe("validityFor", () => {
  const now = Date.UTC(2025, 0, 15, 12, 30, 45, 789);
  const wholeSecond = Date.UTC(2025, 0, 15, 12, 30, 45);

  test("the default lifetime is 30 days", () => {
    assert.equal(DEFAULT_VALIDITY_MS, 30 * DAY);
    const v = validityFor(req(["a.lan"]), 90 * DAY, now);
    assert.equal(v.notAfter.getTime() - v.notBefore.getTime(), 30 * DAY);
  });

  test("the default is capped by a smaller maximum", () => {
    const v = validityFor(req(["a.lan"]), 7 * DAY, now);
    assert.equal(v.notAfter.getTime() - v.notBefore.getTime(), 7 * DAY);
  });

  test("a requested lifetime is used exactly", () => {
    const v = validityFor(req(["a.lan"], [], 3_600_000), 90 * DAY, now);
    assert.equal(v.notAfter.getTime() - v.notBefore.getTime(), 3_600_000);
  });

  test("notBefore is whole seconds, backdated by BACKDATE_MS", () => {
    const v = validityFor(req(["a.lan"]), 90 * DAY, now);
    assert.equal(v.notBefore.getTime() % 1000, 0);
    assert.equal(v.notAfter.getTime() % 1000, 0);
    assert.ok(BACKDATE_MS > 0);
    assert.equal(v.notBefore.getTime(), wholeSecond - BACKDATE_MS);
    assert.ok(v.notBefore.getTime() < now);
  });

  test("backdating absorbs five minutes of clock skew, a fifth of a lifetime shorter than 25 minutes", () => {
    assert.equal(BACKDATE_MS, 5 * 60_000);
    assert.equal(backdateFor(30 * DAY), BACKDATE_MS);
    assert.equal(backdateFor(25 * 60_000), BACKDATE_MS);
    assert.equal(backdateFor(10 * 60_000), 2 * 60_000);
    assert.equal(backdateFor(5 * 60_000), 60_000);
    const short = validityFor(req(["a.lan"], [], 5 * 60_000), DAY, wholeSecond);
    assert.equal(short.notBefore.getTime(), wholeSecond - 60_000);
    assert.equal(short.notAfter.getTime() - wholeSecond, 4 * 60_000, "four of its five minutes still ahead");
  });

  test("when now is already a whole second, notBefore is exactly now - BACKDATE_MS", () => {
    const v = validityFor(req(["a.lan"], [], DAY), DAY, wholeSecond);
    assert.equal(v.notBefore.getTime(), wholeSecond - BACKDATE_MS);
    assert.equal(v.notAfter.getTime(), wholeSecond - BACKDATE_MS + DAY);
  });
});
