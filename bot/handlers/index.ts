/**
 * The registry of job types this bot can run. To add a type: write one file next to this one
 * (defineHandler with a zod payload, see hash.ts) and add it to HANDLERS below.
 */
import { fibHandler } from './fib';
import type { JobHandler } from './handler';
import { hashHandler } from './hash';
import { primesHandler } from './primes';
import { simulatedHandler } from './simulated';

export const HANDLERS: readonly JobHandler[] = [simulatedHandler, hashHandler, primesHandler, fibHandler];

export class HandlerRegistry {
  private readonly byType = new Map<string, JobHandler>();

  constructor(handlers: readonly JobHandler[] = HANDLERS) {
    for (const h of handlers) {
      if (this.byType.has(h.type)) throw new Error(`two handlers for job type "${h.type}"`);
      this.byType.set(h.type, h);
    }
  }

  get(type: string): JobHandler | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }
}

export {
  JobFailure,
  InvalidPayloadError,
  type HandlerContext,
  type HandlerSettings,
  type JobHandler,
  type JobLog,
} from './handler';
