import type { JsonSchema } from '../../component/types.js';
import { durationSchema } from '../../config/units.js';

export interface BatchConfig {
  send_batch_size: number;
  send_batch_max_size: number;
  timeout: string;
}

export const batchConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    send_batch_size: { type: 'integer', minimum: 1, default: 8192, description: 'Items (spans or data points) that trigger a send as soon as they are buffered.' },
    send_batch_max_size: { type: 'integer', minimum: 0, default: 0, description: 'Upper bound of one sent batch; larger input is split. 0 means no bound.' },
    timeout: durationSchema('Longest time an item waits in the buffer before it is sent, whatever the batch size.', '200ms'),
  },
};

export const defaultBatchConfig = (): BatchConfig => ({ send_batch_size: 8192, send_batch_max_size: 0, timeout: '200ms' });
