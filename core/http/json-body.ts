/**
 * JSON request bodies: a size limit (413, after reading the rest so clients see the answer and not
 * EPIPE), JSON content types only (415), malformed or too deeply nested JSON (400).
 */
import type Koa from 'koa';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors';

/** Deeper JSON is refused before parsing: nothing a job needs, and it protects validators' stacks. */
const MAX_JSON_DEPTH = 64;

function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

async function readBody(req: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit)
      over = true; // keep reading and discarding: the client gets its 413
    else parts.push(b);
    // ...but not forever: past 8x the limit the client is not listening for a 413; drop it.
    if (size > limit * 8) {
      (req as NodeJS.ReadableStream & { destroy(): void }).destroy();
      break;
    }
  }
  if (over) throw new PayloadTooLargeError(limit);
  return Buffer.concat(parts);
}

declare module 'koa' {
  interface Request {
    /** The parsed JSON body; {} when the request had none. */
    json: unknown;
  }
}

export function jsonBody(limit: number): Koa.Middleware {
  return async (ctx, next) => {
    ctx.request.json = {};
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method)) return next();
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > limit) {
      await readBody(ctx.req, Number.MAX_SAFE_INTEGER).catch(() => {});
      throw new PayloadTooLargeError(limit);
    }
    const raw = await readBody(ctx.req, limit);
    if (raw.length === 0) return next();
    const type = (ctx.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json' && !/^application\/[a-z0-9.+-]*\+json$/.test(type))
      throw new UnsupportedMediaTypeError();
    const text = raw.toString('utf8');
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      throw new ValidationError(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`, [
        { path: '(root)', message: 'too deeply nested' },
      ]);
    }
    let protoKey = false;
    try {
      // A "__proto__" key survives JSON.parse but validators and spreads drop it silently: refuse it
      // rather than lose data. The reviver costs time, so it runs only when the text could hold one.
      ctx.request.json = text.includes('__proto__')
        ? JSON.parse(text, (key, value) => {
            if (key === '__proto__') protoKey = true;
            return value;
          })
        : JSON.parse(text);
    } catch (err) {
      throw new ValidationError('the body is not valid JSON', [
        { path: '(root)', message: (err as Error).message.slice(0, 200) },
      ]);
    }
    if (protoKey)
      throw new ValidationError('the key "__proto__" is not allowed in a body', [
        { path: '(root)', message: 'key "__proto__" not allowed' },
      ]);
    return next();
  };
}
