import { writeFileSync } from 'node:fs';
import { FACTORIES } from '../components.js';
import { renderConfigReference } from './config-reference.js';

const target = new URL('../../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigReference(FACTORIES));
process.stdout.write(`wrote ${target.pathname}\n`);
