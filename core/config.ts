/**
 * Helpers for the per-component config.ts files, the only readers of process.env. Each parses the
 * environment with zod, prints every bad variable and exits, or returns a frozen object.
 */
import { z } from 'zod';

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

/** The shipped admin token: every component warns while it is still in use. */
export const DEFAULT_ADMIN_TOKEN = 'admin-secret-token';

/** ADMIN_TOKEN: at least 8 characters, default DEFAULT_ADMIN_TOKEN. */
export const envAdminToken = () =>
  envString(DEFAULT_ADMIN_TOKEN).pipe(z.string().min(8, 'must be at least 8 characters'));

export const envLogLevel = envString('info').pipe(
  z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
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
