import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../../../shared/errors.js";
import type { Registry } from "./registry-name.js";

/**
 * `trust --buildkit NAME`: the root for a buildx builder. buildx keeps a builder in one JSON file,
 * `$BUILDX_CONFIG/instances/NAME` (by default `~/.docker/buildx/instances/NAME`), whose nodes
 * carry `Files`: the buildkitd.toml and the certificates it names, as base64, keyed by their path
 * under /etc/buildkit. The docker-container driver copies them into the builder's container
 * when it creates the container (and the kubernetes driver into its ConfigMap), so that file is
 * where a named builder's buildkitd.toml lives on the host, and this edits it the way
 * `docker buildx create --buildkitd-config` stores it: for each registry a
 * `[registry."HOST:PORT"] ca = ["/etc/buildkit/certs/HOST_PORT/certyard-ca.crt"]` table, between
 * marker comments, and the root under that key.
 *
 * A builder whose buildkitd.toml already configures the registry is refused with the file named:
 * TOML allows a table once, so a second one would keep the builder from starting.
 */

/** buildx's builder names (store/util.go ValidateName); it stores them lower-cased. */
const BUILDER_NAME = /^[a-zA-Z][a-zA-Z0-9._-]*$/;
/** buildx's certs folder per registry (util/confutil/container.go reInvalidCertsDir). */
const INVALID_CERTS_DIR = /[^a-zA-Z0-9.-]+/g;
const CONFIG_KEY = "buildkitd.toml";
const CONTAINER_CONFIG_DIR = "/etc/buildkit";
const DRIVERS_WITH_FILES = ["docker-container", "kubernetes"];

export function builderFile(buildxDir: string, name: string): string {
  if (!BUILDER_NAME.test(name)) {
    throw new InputError(
      `invalid --buildkit "${name}": a buildx builder name starts with a letter and has only letters, digits, '.', '_' and '-'`,
    );
  }
  return join(buildxDir, "instances", name.toLowerCase());
}

const nodeSchema = z.looseObject({
  Name: z.string(),
  Files: z.record(z.string(), z.string()).nullish(),
});
const builderSchema = z.looseObject({
  Name: z.string(),
  Driver: z.string(),
  Nodes: z.array(nodeSchema).nullish(),
});

const begin = (r: Registry) => `# certyard-agent trust --buildkit: begin ${r.dirName}`;
const end = (r: Registry) => `# certyard-agent trust --buildkit: end ${r.dirName}`;

/** Where the root goes, as a key of Files and as the path buildkitd reads in the container. */
export function buildkitCaKey(r: Registry): { key: string; containerPath: string } {
  const key = `certs/${r.dirName.replace(INVALID_CERTS_DIR, "_")}/certyard-ca.crt`;
  return { key, containerPath: `${CONTAINER_CONFIG_DIR}/${key}` };
}

export function buildkitBlock(r: Registry): string {
  return `${begin(r)}\n[registry."${r.dirName}"]\n  ca = ["${buildkitCaKey(r).containerPath}"]\n${end(r)}\n`;
}

/** The toml without our block for `r` (the lines from its begin marker to its end marker). */
function withoutBlock(toml: string, r: Registry): string {
  const lines = toml.split("\n");
  const from = lines.indexOf(begin(r));
  const to = lines.indexOf(end(r), from);
  if (from < 0 || to < 0) return toml;
  lines.splice(from, to - from + 1);
  return lines.join("\n");
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Does this TOML (ours removed) configure the registry itself, or make adding a table impossible? */
function conflict(toml: string, r: Registry): string | null {
  const host = `(?:"${escapeRe(r.dirName)}"|'${escapeRe(r.dirName)}')`;
  const tables = new RegExp(`^\\s*\\[\\[?\\s*registry\\s*\\.\\s*${host}\\s*[\\].]`);
  const dotted = new RegExp(`^\\s*registry\\s*\\.\\s*${host}\\s*[.=]`);
  let inRegistry = false;
  for (const line of toml.split("\n")) {
    const header = /^\s*\[\[?\s*([^\]]*?)\s*\]/.exec(line);
    if (header) inRegistry = /^registry$/.test(header[1] ?? "");
    if (tables.test(line) || dotted.test(line)) return `it already configures registry "${r.dirName}"`;
    if (inRegistry && new RegExp(`^\\s*${host}\\s*[.=]`).test(line)) {
      return `it already configures registry "${r.dirName}"`;
    }
    if (/^\s*registry\s*=/.test(line)) return "it sets registry as an inline table";
  }
  return null;
}

export interface BuilderEdit {
  content: string;
  changed: boolean;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString();

/**
 * The builder file with the root added for each registry (or, with `remove`, what certyard added
 * taken out). Pure. Returns the text unchanged, byte for byte, when there is nothing to do.
 */
export function editBuilder(
  text: string,
  file: string,
  registries: Registry[],
  rootPem: string,
  remove: boolean,
): BuilderEdit {
  let parsed: z.infer<typeof builderSchema>;
  try {
    parsed = builderSchema.parse(JSON.parse(text));
  } catch {
    throw new Error(
      `${file} is not a buildx builder as this agent knows them (JSON with Name, Driver, Nodes)`,
    );
  }
  if (!DRIVERS_WITH_FILES.includes(parsed.Driver)) {
    throw new InputError(
      `--buildkit ${parsed.Name}: the builder uses the "${parsed.Driver}" driver, which takes no buildkitd.toml from buildx (only ${DRIVERS_WITH_FILES.join(" and ")} do)`,
    );
  }
  let changed = false;
  for (const node of parsed.Nodes ?? []) {
    const files = { ...(node.Files ?? {}) };
    let toml = files[CONFIG_KEY] === undefined ? "" : unb64(files[CONFIG_KEY]);
    const before = toml;
    for (const r of registries) {
      const rest = withoutBlock(toml, r);
      const { key } = buildkitCaKey(r);
      if (remove) {
        toml = rest;
        if (files[key] !== undefined && unb64(files[key]) === rootPem) delete files[key];
        continue;
      }
      const why = conflict(rest, r);
      if (why) {
        throw new Error(
          `refusing to edit the buildkitd.toml of builder ${parsed.Name} (node ${node.Name} in ${file}): ${why}; add ca = ["${buildkitCaKey(r).containerPath}"] there and the root to Files["${key}"] with docker buildx create --append --node ${node.Name} --buildkitd-config FILE`,
        );
      }
      const block = buildkitBlock(r);
      if (!toml.includes(block)) toml = `${rest.replace(/\n*$/, rest.trim() ? "\n\n" : "")}${block}`;
      if (files[key] === undefined || unb64(files[key]) !== rootPem) files[key] = b64(rootPem);
    }
    if (toml !== before) {
      if (remove && toml.trim() === "") delete files[CONFIG_KEY];
      else files[CONFIG_KEY] = b64(toml);
    }
    const same =
      JSON.stringify(Object.entries(files).sort()) ===
      JSON.stringify(Object.entries(node.Files ?? {}).sort());
    if (!same) {
      node.Files = Object.keys(files).length ? files : null;
      changed = true;
    }
  }
  return { content: changed ? JSON.stringify(parsed) : text, changed };
}
