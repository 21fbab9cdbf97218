import { readFileSync } from "node:fs";

/**
 * certyard's version, from the package.json above this file: the repository's from shared/ and
 * dist/shared/ alike, and the image's /app/package.json.
 */
export function certyardVersion(): string {
  for (const up of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === "certyard" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not this one
    }
  }
  return "unknown";
}
