import type { BotActivity } from '../server-client';
import { chooseBotsToStop, DELETION_COST, podDeletionCost } from './drain-order';

const act = (id: string, status: BotActivity['status'], currentJobId: string | null = null): [string, BotActivity] => [
  id,
  { id, status, currentJobId },
];

describe('drain-first order', () => {
  const activity = new Map([
    act('b-1', 'busy', 'j1'),
    act('b-2', 'idle'),
    act('b-3', 'busy', 'j3'),
    act('b-4', 'idle'),
    act('b-5', 'down'),
  ]);
  const candidates = ['b-6', 'b-5', 'b-4', 'b-3', 'b-2', 'b-1']; // highest number first

  it('stops unknown and down bots first, then idle ones, keeping the driver’s order among equals', () => {
    expect(chooseBotsToStop(candidates, activity, 2)).toEqual(['b-6', 'b-5']);
    expect(chooseBotsToStop(candidates, activity, 4)).toEqual(['b-6', 'b-5', 'b-4', 'b-2']);
  });

  it('stops a busy bot only when no idle one is left', () => {
    expect(chooseBotsToStop(candidates, activity, 5)).toEqual(['b-6', 'b-5', 'b-4', 'b-2', 'b-3']);
    expect(chooseBotsToStop(candidates, activity, 10)).toHaveLength(6);
    expect(chooseBotsToStop(candidates, activity, 0)).toEqual([]);
  });

  it('treats an idle-looking bot that still holds a job as busy', () => {
    const a = new Map([act('x', 'idle', 'j9'), act('y', 'idle')]);
    expect(chooseBotsToStop(['x', 'y'], a, 1)).toEqual(['y']);
  });

  it('prices pods for the ReplicaSet controller: busy high, idle low, unknown lowest', () => {
    expect(podDeletionCost(activity.get('b-1'))).toBe(DELETION_COST.busy);
    expect(podDeletionCost(activity.get('b-2'))).toBe(DELETION_COST.idle);
    expect(podDeletionCost(activity.get('b-5'))).toBe(DELETION_COST.unknown);
    expect(podDeletionCost(undefined)).toBe(DELETION_COST.unknown);
    expect(DELETION_COST.busy).toBeGreaterThan(DELETION_COST.idle);
    expect(DELETION_COST.idle).toBeGreaterThan(DELETION_COST.unknown);
  });
});
