/**
 * The command line of the small bench/ scripts (ab, memory, store-profile, ...): `--help` prints the
 * usage and exits 0; a count that is not a positive whole number is refused with the usage (exit 2)
 * instead of running with NaN.
 */
export function scriptArgs(usage: string, argv: readonly string[] = process.argv.slice(2)): string[] {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return [...argv];
}

export function usageError(usage: string, why: string): never {
  process.stderr.write(`${why}\n\nusage: ${usage}\n`);
  process.exit(2);
}

/** A positional count: its default when absent, else a whole number ≥ 1. */
export function countArg(usage: string, name: string, value: string | undefined, def: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usageError(usage, `${name} must be a whole number of at least 1, not "${value}"`);
  return n;
}
