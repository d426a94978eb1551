/**
 * Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`. Tokens are compared as SHA-256 digests in
 * constant time, so a token of any length costs the same and never throws.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { UnauthorizedError } from '../errors';

/** SHA-256 of a token: what is kept and compared, never the token itself. */
export const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function tokenMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

export function requireAdmin(adminToken: string): Koa.Middleware {
  const expected = digest(adminToken);
  return async (ctx, next) => {
    // The scheme is case-insensitive (RFC 7235); the token is everything after the white space.
    const m = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(ctx.get('authorization'));
    if (!m || !tokenMatches(m[1], expected)) throw new UnauthorizedError();
    await next();
  };
}
