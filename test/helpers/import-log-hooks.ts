import { appendFileSync } from "node:fs";

/** The module hooks behind import-log.ts; they run on the loader thread of the process. */
let file: string | undefined;

export function initialize(data: { file?: string }): void {
  file = data.file;
}

type Resolved = { url: string };

export async function resolve(
  specifier: string,
  context: unknown,
  next: (specifier: string, context: unknown) => Promise<Resolved>,
): Promise<Resolved> {
  const resolved = await next(specifier, context);
  if (file) appendFileSync(file, `${process.pid} ${resolved.url}\n`);
  return resolved;
}
