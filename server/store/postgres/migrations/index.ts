/** The migrations of this database, by name: Knex's migrator runs each once, in name order (store/migrate.ts). */
import type { Migration } from '../../migrate';
import * as initial from './0001_initial';
import * as schedules from './0003_schedules';
import * as jobControl from './0004_job_control';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0003_schedules': schedules,
  '0004_job_control': jobControl,
};
