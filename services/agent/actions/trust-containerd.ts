import { join } from "node:path";
import type { Registry } from "./registry-name.js";

/**
 * containerd's per-registry directory (`/etc/containerd/certs.d/HOST:PORT/`, docs/hosts.md):
 * a hosts.toml that names the registry as its server, with a `ca` beside it. containerd 1.5+
 * reads it on every pull (no restart) once the CRI plugin's registry `config_path` points at
 * the folder; `ctr --hosts-dir` reads it directly.
 *
 * A hosts.toml that certyard did not write is never replaced: it is an operator's deliberate
 * configuration (mirrors in order of preference, skip_verify, client certificates, headers),
 * and merging into it without a TOML parser could reorder or drop what it says, which a later
 * `trust --remove` could not undo. The refusal names the file and the one line to add instead.
 */

/** The first line of every hosts.toml certyard writes; how `--remove` and a rerun know it. */
export const HOSTS_TOML_MARK = "# Written by certyard-agent trust";

export interface ContainerdFiles {
  hostsToml: string;
  caFile: string;
}

export function containerdFiles(certsDir: string, r: Registry): ContainerdFiles {
  const dir = join(certsDir, r.dirName);
  return { hostsToml: join(dir, "hosts.toml"), caFile: join(dir, "ca.crt") };
}

/** The server URL as containerd builds it from an image reference: https://HOST[:PORT]. */
export function serverUrl(r: Registry): string {
  return `https://${r.dirName}`;
}

/** TOML basic string: the characters a path or URL may hold that need escaping. */
const tomlString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export function hostsToml(r: Registry, caFile: string): string {
  const url = tomlString(serverUrl(r));
  return [
    `${HOSTS_TOML_MARK} --registry ${r.dirName}; 'certyard-agent trust --remove' deletes it.`,
    "# certyard replaces this file as a whole: keep your own settings in a file it did not write.",
    `server = ${url}`,
    "",
    `[host.${url}]`,
    `  ca = ${tomlString(caFile)}`,
    "",
  ].join("\n");
}

export const isCertyardHostsToml = (content: string) => content.startsWith(HOSTS_TOML_MARK);

/** The refusal for someone else's hosts.toml: what to add to it by hand instead. */
export function foreignHostsTomlError(r: Registry, files: ContainerdFiles): Error {
  return new Error(
    `refusing to replace ${files.hostsToml}: certyard did not write it; add ca = ${tomlString(files.caFile)} under its [host.${tomlString(serverUrl(r))}] yourself (and put the root in ${files.caFile}), or move the file away and run trust again`,
  );
}
