/**
 * Structured logs: one JSON line per event on stdout (pino), pretty when stdout is a terminal and
 * LOG_PRETTY is not "false". The one place in core that does I/O, kept tiny on purpose.
 *
 * The lines of one event-loop turn go out in one write (TurnBatch): a bot logs "claimed" and
 * "started" in the same turn, and "completed" in the turn that claims the next job, so at the
 * default level that is one write to stdout per job instead of three, each of which wakes whatever
 * reads the pipe (the container runtime, dev:all, the controller). A line is still out before the process waits
 * for anything, and on exit; only a kill -9 within the turn that logged it loses it.
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** Where TurnBatch writes: pino's own stdout destination (synchronous, retries a full pipe). */
export interface LineSink {
  write(chunk: string): unknown;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

/** A pino destination that joins the lines written in one event-loop turn into one write to `sink`. */
export class TurnBatch {
  private pending = '';
  private scheduled = false;
  private readonly onExit = () => this.flushSync();

  constructor(private readonly sink: LineSink) {
    process.once('exit', this.onExit);
  }

  write(line: string): boolean {
    this.pending += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.writePending());
    }
    return true;
  }

  /** pino's logger.flush(cb): what is pending, then the sink's own flush. */
  flush(cb?: (err?: Error) => void): void {
    this.writePending();
    if (this.sink.flush) this.sink.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    this.writePending();
    try {
      this.sink.flushSync?.();
    } catch {
      // exiting: nothing left to report it to
    }
  }

  private writePending(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const out = this.pending;
    this.pending = '';
    this.sink.write(out);
  }
}

export function createLogger(name: string, level: string = 'info', opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && process.env.LOG_PRETTY !== 'false');
  if (pretty) {
    return pino({
      name,
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino(
    { name, level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime },
    new TurnBatch(pino.destination({ dest: 1, sync: true })),
  );
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
