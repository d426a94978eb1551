/**
 * Helpers for the per-component config.ts files, the only readers of process.env. Each parses the
 * environment with zod, prints every bad variable and exits, or returns a frozen object.
 */
import { z } from 'zod';
import { readTokens, type Role, type Tokens } from './http/auth';

/** An integer environment variable with a default; accepts "1000" or "1_000". */
export const envInt = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return def;
      const n = Number(s.replace(/_/g, ''));
      if (!Number.isInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `must be an integer, got "${s}"` });
        return z.NEVER;
      }
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

export const envFloat = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s.trim() === '') return def;
      const n = Number(s);
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a number between ${min} and ${max}, got "${s}"` });
        return z.NEVER;
      }
      return n;
    });

export const envString = (def: string) =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s === '' ? def : s));

export const envBool = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined || s === '') return def;
      if (/^(1|true|yes|on)$/i.test(s)) return true;
      if (/^(0|false|no|off)$/i.test(s)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${s}"` });
      return z.NEVER;
    });

/** An http(s) URL variable, without trailing slashes (paths are appended to it). */
export const envHttpUrl = (def: string) =>
  envString(def).pipe(
    z
      .url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })
      .transform((u) => u.replace(/\/+$/, '')),
  );

export const envLogLevel = envString('info').pipe(
  z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

/** Parses env with a zod object of env* fields. Throws ConfigError listing every bad variable. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.output<S>> {
  const r = schema.safeParse(env);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return Object.freeze(r.data);
}

/**
 * parseEnv plus the bearer tokens of `roles` (core/http/auth.ts), every problem of both reported
 * at once: the config and `tokens` (each role's list) and `tokenWarnings` (one per default in use).
 */
export function parseEnvWithTokens<S extends z.ZodType<object>, R extends Role>(
  schema: S,
  env: NodeJS.ProcessEnv,
  roles: readonly R[],
): Readonly<z.output<S> & { tokens: Tokens<R>; tokenWarnings: readonly string[] }> {
  const r = schema.safeParse(env);
  const t = readTokens(env, roles);
  const problems = [
    ...(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...t.problems,
  ];
  if (!r.success || problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...r.data, tokens: t.tokens, tokenWarnings: t.warnings });
}

/** For main.ts: parse, or print every problem and exit 1. */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Prints --help text and exits 0 when asked. */
export function handleHelp(argv: string[], text: string): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    process.exit(0);
  }
}
