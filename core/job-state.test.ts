import { canTransition, simulatedBatch, statusAfterFailedAttempt, utcDay } from './job-state';
import { JOB_STATUSES } from './types';

test('the allowed transitions, and nothing leaves completed', () => {
  expect(canTransition('pending', 'claimed')).toBe(true);
  expect(canTransition('claimed', 'running')).toBe(true);
  expect(canTransition('running', 'completed')).toBe(true);
  expect(canTransition('running', 'pending')).toBe(true); // released
  expect(canTransition('failed', 'pending')).toBe(true); // retried
  expect(canTransition('pending', 'running')).toBe(false); // always through a claim
  expect(canTransition('pending', 'completed')).toBe(false);
  expect(canTransition('running', 'cancelled')).toBe(true); // cancelled while it runs
  expect(canTransition('completed', 'cancelled')).toBe(false);
  for (const to of JOB_STATUSES) expect(canTransition('completed', to)).toBe(false);
});

test('a failed attempt leaves the job pending until its last attempt', () => {
  expect(statusAfterFailedAttempt(1, 3)).toBe('pending');
  expect(statusAfterFailedAttempt(2, 3)).toBe('pending');
  expect(statusAfterFailedAttempt(3, 3)).toBe('failed');
  expect(statusAfterFailedAttempt(1, 1)).toBe('failed');
});

test('utcDay names the partition; simulatedBatch makes the seed jobs', () => {
  expect(utcDay('2026-11-29T23:59:59.999Z')).toBe('2026-11-29');
  const batch = simulatedBatch(3);
  expect(batch).toHaveLength(3);
  expect(batch[0]).toMatchObject({ type: 'simulated', payload: {}, priority: 0 });
});
