import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../component/types.js';
import { isDuration, isSize } from './units.js';

/** One Ajv instance for every schema: all errors, strict about the schemas themselves. */
export const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
ajv.addFormat('duration', { type: 'string', validate: isDuration });
ajv.addFormat('size', { type: 'string', validate: isSize });
ajv.addFormat('hostport', { type: 'string', validate: (s: string) => /^(\[[0-9a-fA-F:.]+\]|[^\s:]*):\d{1,5}$/.test(s) });

const cache = new WeakMap<JsonSchema, ValidateFunction>();

export function compileSchema(schema: JsonSchema): ValidateFunction {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}
