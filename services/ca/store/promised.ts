/** `T` with every method returning a promise of what it returned, nested objects likewise. */
export type Promised<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : T[K] extends object
      ? Promised<T[K]>
      : T[K];
};

/**
 * A synchronous store module as the async port it implements: each method returns a promise
 * settled with what the call returned, or rejected with what it threw (so a caller's await sees
 * a SQLite error as a rejection, as it would a network database's). The call itself still runs
 * at once, in the caller's turn of the event loop: nothing else runs between a read and a write
 * inside one method, as before.
 */
export function promised<T extends object>(module: T): Promised<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(module)) {
    if (typeof value === "function") {
      const fn = value as (...args: unknown[]) => unknown;
      out[key] = (...args: unknown[]) => {
        try {
          return Promise.resolve(fn.apply(module, args));
        } catch (e) {
          return Promise.reject(e);
        }
      };
    } else if (typeof value === "object" && value !== null) {
      out[key] = promised(value as object);
    } else out[key] = value;
  }
  return out as Promised<T>;
}
