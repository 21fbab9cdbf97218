/**
 * Imported first by both programs, so it runs before any dependency that needs a newer node:
 * on an older one they say in one line what they need, instead of failing somewhere inside.
 * Keep NODE_MAJOR equal to package.json's engines (a unit test checks).
 */
export const NODE_MAJOR = 24;

/** The one-line refusal for a node older than NODE_MAJOR, or undefined when it will do. */
export function tooOldNode(version: string, execPath: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= NODE_MAJOR) return undefined;
  return `certyard needs Node.js ${NODE_MAJOR} or newer; this is Node.js ${version} (${execPath})`;
}

const refusal = tooOldNode(process.version, process.execPath);
if (refusal) {
  process.stderr.write(`${refusal}\n`);
  process.exit(1);
}
