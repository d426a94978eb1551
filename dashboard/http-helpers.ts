/** Small request/response helpers shared by the dashboard's routes. */
import type { Context, Next } from 'koa';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../core/errors';

/** The CSP of every response. No inline scripts or styles anywhere; see docs/dashboard.md. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

export async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
  ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  await next();
  // Pages and JSON change every few seconds and may show admin controls: never cache them.
  if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
}

/** True when the caller asked for JSON (fetch from the live parts, scripts) rather than a page. */
export function wantsJson(ctx: Context): boolean {
  if (ctx.path.startsWith('/api/')) return true;
  const accept = ctx.get('accept');
  return accept.includes('application/json') && !accept.includes('text/html');
}

const FORM_LIMIT_BYTES = 64 * 1024;

/**
 * Reads an application/x-www-form-urlencoded (the dashboard's own forms) or JSON body into a flat
 * string map. Small limit: the largest legitimate body is an enqueued job's payload.
 */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  const type = ctx.request.type;
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    // Keep reading (and dropping) the rest so the client gets the 413 instead of a reset socket.
    if (size > FORM_LIMIT_BYTES) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  if (tooLarge) throw new PayloadTooLargeError(FORM_LIMIT_BYTES);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ValidationError('the body is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ValidationError('the body must be a JSON object');
    }
    return Object.fromEntries(
      Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    );
  }
  throw new UnsupportedMediaTypeError();
}

/**
 * Where to send the browser after a control or sign-in: only a local path ("/jobs?x=1"), never
 * "//evil.example" or "https://…", so the parameter cannot be used as an open redirect.
 */
export function safeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length > 2000) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  if (/[\r\n]/.test(value)) return fallback;
  return value;
}
