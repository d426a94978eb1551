/** What every dashboard route needs; built once by createDashboardApp. */
import type { Logger } from '../core/logger';
import type { DashboardConfig } from './config';
import type { ControllerClient } from './controller-client';
import type { Render } from './render';
import type { ServerClient } from './server-client';
import type { SessionStore } from './session';

export interface DashboardDeps {
  config: DashboardConfig;
  server: ServerClient;
  controller: ControllerClient;
  sessions: SessionStore;
  render: Render;
  logger: Logger;
  now: () => number;
}
