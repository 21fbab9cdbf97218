import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { problems } from "../../../scripts/imports.js";

const graph = (edges: Record<string, string[]>) =>
  new Map(Object.entries(edges).map(([file, deps]) => [file, new Set(deps)]));

describe("scripts/imports.ts: the import rules npm run lint checks", () => {
  test("a tree that keeps to the layers passes", () => {
    const ok = graph({
      "shared/a.ts": [],
      "services/ca/core/x.ts": ["shared/a.ts"],
      "services/ca/store/s.ts": ["services/ca/core/x.ts"],
      "services/ca/acme/o.ts": ["services/ca/core/x.ts"],
      "services/ca/http/r.ts": ["services/ca/acme/o.ts", "services/ca/http/c.ts"],
      "services/ca/http/c.ts": [],
      "services/ca/server.ts": ["services/ca/http/r.ts", "services/ca/store/s.ts"],
    });
    assert.deepEqual(problems(ok), []);
  });

  test("a file cycle, a folder cycle and an import up the layers are each named", () => {
    const bad = graph({
      "services/ca/cli/serve.ts": ["services/ca/cli/cluster.ts"],
      "services/ca/cli/cluster.ts": ["services/ca/cli/serve.ts"],
      "services/ca/store/acme.ts": ["services/ca/acme/ports.ts"],
      "services/ca/acme/ports.ts": ["services/ca/http/context.ts"],
      "services/ca/http/context.ts": ["services/ca/acme/app.ts"],
      "services/ca/acme/app.ts": [],
      "shared/x.ts": ["services/agent/y.ts"],
      "services/agent/y.ts": [],
    });
    const found = problems(bad).join("\n");
    assert.match(found, /file cycle: services\/ca\/cli\/cluster.ts <-> services\/ca\/cli\/serve.ts/);
    assert.match(found, /folder cycle in services\/ca\/: services\/ca\/acme <-> services\/ca\/http/);
    assert.match(found, /import up the layers \(keys\/store -> domain\): services\/ca\/store\/acme.ts/);
    assert.match(found, /shared imports a service: shared\/x.ts/);
  });

  test("the agent has layers too: an issuer that imports a command, and a file with no layer, are named", () => {
    const bad = graph({
      "services/agent/issuers/ca.ts": ["services/agent/commands/context.ts", "services/agent/state.ts"],
      "services/agent/commands/context.ts": ["services/agent/state.ts"],
      "services/agent/state.ts": ["shared/fs.ts"],
      "services/agent/stray.ts": [],
      "shared/fs.ts": [],
    });
    const found = problems(bad);
    assert.deepEqual(found.sort(), [
      "import up the layers (issuers/deploy/doctor -> commands): services/agent/issuers/ca.ts -> services/agent/commands/context.ts",
      "no layer for services/agent/stray.ts: add it to AGENT_LAYERS",
    ]);
  });
});
