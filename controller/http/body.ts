/**
 * Reads a JSON request body with a size limit. Over the limit, the rest of the body is read and
 * discarded before answering 413: closing the connection early makes clients such as Node's fetch
 * report EPIPE instead of the 413.
 */
import type { Context } from 'koa';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../../core/errors';

/** The parsed body, or undefined when the request has none. */
export async function readJsonBody(ctx: Context, limitBytes: number): Promise<unknown> {
  const type = ctx.request.is('application/json', '+json');
  if (type === null) return undefined; // no body at all
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  // An empty body (e.g. a POST with Content-Length: 0 and no type) is no body, not a bad one.
  if (size === 0) return undefined;
  if (type === false) throw new UnsupportedMediaTypeError();
  if (tooLarge) throw new PayloadTooLargeError(limitBytes);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('the body is not valid JSON', [{ path: '(root)', message: 'malformed JSON' }]);
  }
}
