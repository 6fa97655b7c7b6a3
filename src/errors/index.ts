export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from './codes.js';
export { SondeError, permanentError, retryableError, isRetryable, type SondeErrorOptions } from './sonde-error.js';
