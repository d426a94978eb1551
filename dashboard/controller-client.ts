/** HTTP client of the bot controller (docs/controller.md). Its absence must never break a page. */
import { jsonRequester, type JsonClientOptions } from './upstream';

export interface ScaleState {
  driver: string;
  desired: number;
  current: number;
  ready: number;
  autoscale: { enabled: boolean; min: number; max: number; jobsPerBot: number };
}

export interface AutoscaleInput {
  enabled: boolean;
  min: number;
  max: number;
  jobsPerBot: number;
}

export type ControllerClient = ReturnType<typeof createControllerClient>;

export function createControllerClient(o: Omit<JsonClientOptions, 'name'>) {
  const req = jsonRequester({ ...o, name: 'controller' });
  return {
    baseUrl: o.baseUrl,
    getScale: () => req<ScaleState>('/scale'),
    setReplicas: (replicas: number) => req<ScaleState>('/scale', { method: 'PUT', admin: true, body: { replicas } }),
    addBot: () => req<ScaleState>('/scale/add', { method: 'POST', admin: true, body: {} }),
    setAutoscale: (a: AutoscaleInput) => req<ScaleState>('/autoscale', { method: 'PUT', admin: true, body: a }),
  };
}
