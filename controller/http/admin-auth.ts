/**
 * Admin check for state-changing routes: "Authorization: Bearer <ADMIN_TOKEN>". Both sides are
 * hashed with SHA-256 first so that timingSafeEqual compares equal lengths and the comparison time
 * says nothing about the token, not even its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { UnauthorizedError } from '../../core/errors';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function requireAdmin(adminToken: string) {
  const expected = digest(adminToken);
  return async (ctx: Context, next: Next): Promise<void> => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(ctx.get('Authorization'));
    if (!m || !timingSafeEqual(digest(m[1]), expected)) throw new UnauthorizedError();
    await next();
  };
}
