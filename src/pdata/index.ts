export * from './types.js';
export { countItems } from './count.js';
export { cloneBatch } from './clone.js';
