import { ManualClock } from '../../core/clock';
import { RateLimitedError } from '../../core/errors';
import { RateLimiter } from './rate-limit';

test('a bucket allows its burst, then refills at its rate, with Retry-After in whole seconds', () => {
  const clock = new ManualClock();
  const l = new RateLimiter(2, 4, clock);
  for (let i = 0; i < 4; i++) l.hit('a');
  expect(() => l.hit('a')).toThrow(RateLimitedError);
  try {
    l.hit('a');
  } catch (e) {
    expect((e as RateLimitedError).headers).toEqual({ 'Retry-After': '1' });
    expect((e as RateLimitedError).status).toBe(429);
  }
  l.hit('b'); // clients are separate
  clock.advance(500);
  l.hit('a'); // one token back after half a second at 2/s
  expect(() => l.hit('a')).toThrow(RateLimitedError);
});

test('rate 0 is off; idle full buckets are forgotten', () => {
  const clock = new ManualClock();
  const off = new RateLimiter(0, 0, clock);
  for (let i = 0; i < 1000; i++) off.hit('x');
  const l = new RateLimiter(10, 20, clock);
  for (let i = 0; i < 100; i++) l.take(`client-${i}`);
  expect(l.size).toBe(100);
  clock.advance(11_000);
  l.take('late');
  expect(l.size).toBe(1);
});
