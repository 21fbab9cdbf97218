/**
 * An error as one line for a person: a zod validation error (its message is JSON) becomes
 * "field: what is wrong; ...". Recognised by shape, so that quick commands need not load zod.
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const issues = (err as { issues?: unknown }).issues;
  if (err.name === "ZodError" && Array.isArray(issues)) {
    return describeIssues(issues as { path: PropertyKey[]; message: string }[]);
  }
  return err.message;
}

export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/**
 * Input a person or a client got wrong (a flag, a duration, a name, a serial): the message says
 * what and how to put it right, and a front end shows it as it is (a 400 problem on HTTP, one
 * line on the CLI). Any other error is the program's own: on HTTP a 500 with no detail.
 */
export class InputError extends Error {
  override readonly name = "InputError";
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}
