import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidStoredStateError, type DesiredState } from '../desired-state';
import { fromConfigMapData, toConfigMapData } from './configmap-store';
import { JsonFileStateStore } from './file-store';

const defaults: DesiredState = { replicas: 3, autoscale: { enabled: false, min: 1, max: 10, jobsPerBot: 5 } };

describe('JsonFileStateStore (real files)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'controller-state-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has nothing before the first save, then returns what was saved (creating the folder)', async () => {
    const file = path.join(dir, 'nested', 'state.json');
    const store = new JsonFileStateStore(file, 50, defaults);
    expect(await store.load()).toBeNull();
    const s: DesiredState = { replicas: 7, autoscale: { enabled: true, min: 2, max: 9, jobsPerBot: 3 } };
    await store.save(s);
    expect(await new JsonFileStateStore(file, 50, defaults).load()).toEqual(s);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['state.json']); // no temporary file left behind
  });

  it('fills fields a person left out of a hand-written file', async () => {
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(file, '{"replicas": 5, "autoscale": {"enabled": true}}');
    expect(await new JsonFileStateStore(file, 50, defaults).load()).toEqual({
      replicas: 5,
      autoscale: { ...defaults.autoscale, enabled: true },
    });
  });

  it('rejects garbage and out-of-range counts with a message naming the field', async () => {
    const file = path.join(dir, 'state.json');
    const store = new JsonFileStateStore(file, 50, defaults);
    fs.writeFileSync(file, '{"replicas": 5,');
    await expect(store.load()).rejects.toBeInstanceOf(InvalidStoredStateError);
    fs.writeFileSync(file, '{"replicas": 51}');
    await expect(store.load()).rejects.toThrow(/replicas/);
    fs.writeFileSync(file, '{"replicas": 2, "autoscale": {"min": 8, "max": 4}}');
    await expect(store.load()).rejects.toThrow(/autoscale.min/);
  });
});

// ConfigMapStateStore's create-or-patch runs against the fake Kubernetes API server in
// test/controller-kubernetes-driver.test.ts.
describe('ConfigMap data (what kubectl edit sees)', () => {
  const loc = 'configmap ns/cm';

  it('round-trips through plain string keys', () => {
    const s: DesiredState = { replicas: 4, autoscale: { enabled: true, min: 0, max: 12, jobsPerBot: 2 } };
    const data = toConfigMapData(s);
    expect(data).toEqual({
      replicas: '4',
      'autoscale.enabled': 'true',
      'autoscale.min': '0',
      'autoscale.max': '12',
      'autoscale.jobsPerBot': '2',
    });
    expect(fromConfigMapData(data, defaults, 50, loc)).toEqual(s);
  });

  it('takes defaults for missing keys and tolerates spaces', () => {
    expect(fromConfigMapData({ replicas: ' 6 ' }, defaults, 50, loc)).toEqual({ ...defaults, replicas: 6 });
  });

  it('names each bad key', () => {
    expect(() => fromConfigMapData({ replicas: 'three', 'autoscale.enabled': 'yes' }, defaults, 50, loc)).toThrow(
      /replicas.*autoscale\.enabled|autoscale\.enabled.*replicas/,
    );
    expect(() => fromConfigMapData({ replicas: '60' }, defaults, 50, loc)).toThrow(/replicas/);
    expect(() => fromConfigMapData({ 'autoscale.jobsPerBot': '0' }, defaults, 50, loc)).toThrow(
      /autoscale\.jobsPerBot/,
    );
  });
});
