/**
 * The controller's view of the job server: which bots are busy (for drain-first scale-down) and how
 * deep the queue is (for autoscale), read with the viewer token, and the removal of a stopped bot
 * with the admin token. Every call has a timeout so a hung server cannot stall the reconcile loop.
 */
import { bearer } from '../core/http/auth';
import type { Bot, BotStatus } from '../core/types';

export interface BotActivity {
  id: string;
  status: BotStatus;
  currentJobId: string | null;
}

export interface QueueDepth {
  pending: number;
  claimed: number;
  running: number;
}

export interface ServerClient {
  listBots(): Promise<BotActivity[]>;
  queueDepth(): Promise<QueueDepth>;
  /** Removes a bot from the server's registry (admin); true when it was there. */
  deleteBot(id: string): Promise<boolean>;
}

class ServerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}

export class HttpServerClient implements ServerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    /** VIEWER_TOKEN for the reads, ADMIN_TOKEN for deleteBot. */
    private readonly tokens: { viewer: string; admin: string },
  ) {}

  private async getJson(path: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        headers: { Authorization: bearer(this.tokens.viewer) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ServerUnavailableError(`GET ${path} failed: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new ServerUnavailableError(`GET ${path} answered ${res.status}`);
    }
    return res.json();
  }

  async listBots(): Promise<BotActivity[]> {
    const body = (await this.getJson('/bots')) as { items?: Bot[] };
    if (!Array.isArray(body.items)) throw new ServerUnavailableError('GET /bots: no items in the answer');
    return body.items.map((b) => ({ id: b.id, status: b.status, currentJobId: b.currentJobId ?? null }));
  }

  async deleteBot(id: string): Promise<boolean> {
    const path = `/bots/${encodeURIComponent(id)}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method: 'DELETE',
        headers: { Authorization: bearer(this.tokens.admin) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ServerUnavailableError(`DELETE ${path} failed: ${(err as Error).message}`);
    }
    await res.body?.cancel();
    if (res.status === 204 || res.status === 200) return true;
    if (res.status === 404) return false;
    throw new ServerUnavailableError(`DELETE ${path} answered ${res.status}`);
  }

  async queueDepth(): Promise<QueueDepth> {
    const body = (await this.getJson('/metrics/summary')) as { jobs?: Partial<QueueDepth> };
    const jobs = body.jobs;
    if (!jobs || typeof jobs.pending !== 'number')
      throw new ServerUnavailableError('GET /metrics/summary: no jobs.pending');
    return { pending: jobs.pending, claimed: jobs.claimed ?? 0, running: jobs.running ?? 0 };
  }
}

/** A bot counts as busy when the server says so or it holds a job; unknown and down bots are not. */
export function isBusy(b: BotActivity | undefined): boolean {
  return b !== undefined && (b.status === 'busy' || b.currentJobId !== null);
}
