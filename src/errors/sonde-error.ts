import type { ErrorCode } from './codes.js';

export interface SondeErrorOptions {
  /** What the user can do about it, printed after the message. */
  hint?: string;
  /** True when trying again can succeed (backend down); false when it cannot (bad data). */
  retryable?: boolean;
  /** For retryable errors: how long the other side asked us to wait. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one error type Sonde throws across module boundaries; `code` is stable and documented. */
export class SondeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: SondeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SondeError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Message with the hint, for terminals and logs. */
  describe(): string {
    return this.hint ? `${this.code}: ${this.message}\n  hint: ${this.hint}` : `${this.code}: ${this.message}`;
  }
}

/** A failure no retry can fix. */
export function permanentError(code: ErrorCode, message: string, options: Omit<SondeErrorOptions, 'retryable'> = {}): SondeError {
  return new SondeError(code, message, { ...options, retryable: false });
}

/** A failure a retry may fix. */
export function retryableError(code: ErrorCode, message: string, options: Omit<SondeErrorOptions, 'retryable'> = {}): SondeError {
  return new SondeError(code, message, { ...options, retryable: true });
}

export function isRetryable(err: unknown): boolean {
  return err instanceof SondeError && err.retryable;
}
