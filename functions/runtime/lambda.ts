/**
 * The AWS side of a handler: its ports are built once per Lambda container, on first use, from
 * the environment serverless.yml sets. Each function file imports only the builders it needs, so
 * its bundle carries only the SDK clients it uses.
 */

/** Wraps a handler factory: build on the first event, reuse for the container's lifetime. */
export function lambda<I, O>(build: () => (input: I) => Promise<O>): (input: I) => Promise<O> {
  let handler: ((input: I) => Promise<O>) | undefined;
  return (input) => {
    handler ??= build();
    return handler(input);
  };
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    const error = new Error(`environment variable ${name} is not set (serverless.yml sets it)`);
    error.name = 'MisconfiguredFunction';
    throw error;
  }
  return value;
}
