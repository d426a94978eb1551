/**
 * Structured logs: one JSON line per event on stdout (pino), pretty when stdout is a terminal and
 * LOG_PRETTY is not "false". The one place in core that does I/O, kept tiny on purpose.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(name: string, level: string = 'info', opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && process.env.LOG_PRETTY !== 'false');
  if (pretty) {
    return pino({
      name,
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
