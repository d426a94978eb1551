/** zod parsing that turns failures into 400s naming each field. */
import type { z } from 'zod';
import { ValidationError, zodDetails } from '../errors';

export function parse<S extends z.ZodType>(schema: S, data: unknown, where: 'body' | 'query' | 'path'): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    const details = zodDetails(r.error.issues).map((d) => ({
      ...d,
      path: d.path === '(root)' ? where : `${where}.${d.path}`,
    }));
    throw new ValidationError(`invalid ${where}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
  }
  return r.data;
}

/** Koa's query object, with repeated parameters refused rather than silently arrays. */
export function singleQuery(query: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v))
      throw new ValidationError(`query parameter ${k} is given more than once`, [
        { path: `query.${k}`, message: 'repeated' },
      ]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
