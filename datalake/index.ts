/** The datalake module: what the server composes (writer, repair, reader, retention). */
export type { OutboxRecord, OutboxSource } from './types';
export { DatalakeWriter, type DatalakeWriterCounters, type DatalakeWriterOptions } from './writer';
export {
  repairDatalake,
  type CountingOutboxSource,
  type RepairOptions,
  type RepairReport,
  type VerifyMode,
} from './repair';
export { DatalakeReader, type DatalakeStats, type DayStats, type ExportHandle } from './reader';
export { applyRetention, type RetentionResult } from './retention';
export { formatLine } from './line-format';
export { dayOf, isDay, listPartitionDays, partitionPath } from './paths';
