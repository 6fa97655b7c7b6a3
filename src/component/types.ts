import type { Signal, TelemetryBatch } from '../pdata/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfTelemetry } from '../telemetry/self-telemetry.js';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/** A JSON Schema (draft 2020-12 subset that Ajv compiles). Every object schema sets additionalProperties: false. */
export type JsonSchema = Record<string, unknown>;

/** `type` or `type/name`, as in the Collector. */
export interface ComponentId {
  readonly type: string;
  readonly name: string;
  /** The id as written in the config. */
  readonly key: string;
}

/** Something that takes telemetry. `mutatesData` decides whether fan-out must give it a copy. */
export interface Consumer {
  readonly mutatesData: boolean;
  /** Resolves once the batch is accepted (queued or delivered); rejects with a SondeError otherwise. */
  consume(batch: TelemetryBatch): Promise<void>;
}

/**
 * Lifecycle every component follows: start() returns quickly and owns its background work;
 * shutdown() is idempotent, safe before start(), stops intake, and flushes what it holds.
 */
export interface Component {
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface Receiver extends Component {}
export interface Processor extends Component, Consumer {}
export interface Exporter extends Component, Consumer {}

/** Lets a receiver ask the pipelines to slow down (memory limiter); receivers poll it where they can. */
export interface Backpressure {
  /** True while downstream asks receivers to refuse or drop new data. */
  shouldRefuse(): boolean;
}

export interface CreateSettings {
  readonly id: ComponentId;
  readonly logger: Logger;
  readonly telemetry: SelfTelemetry;
  /** Absolute path of the config file, for resolving relative paths in component config. */
  readonly configDir: string;
  readonly backpressure: Backpressure;
  /**
   * The service's shutdown deadline. A component that drains on shutdown (exporter queues) must
   * finish, and count what it could not send, well within it: past it the process exits.
   */
  readonly shutdownTimeoutMs?: number;
}

/** A problem in one component's config that its schema cannot express. */
export interface ConfigIssue {
  /**
   * Key path relative to the component's config, dotted, with list indexes as `.0` or `[0]`
   * (`http.routes[0]`, `extract.labels.1.key_regex`); '' for the component as a whole.
   */
  readonly path: string;
  readonly message: string;
}

interface FactoryBase<C> {
  readonly type: string;
  readonly stability: Stability;
  readonly signals: readonly Signal[];
  /** A one-line description, shown by `sonde components` and in docs/configuration.md. */
  readonly description: string;
  readonly configSchema: JsonSchema;
  /** Pure: a fresh default config every call. The user's config is merged over it. */
  createDefaultConfig(): C;
  /**
   * Optional semantic checks the schema cannot express (value ranges that depend on each other,
   * patterns that must compile, ...). Called by config resolution with the user's config merged
   * over the defaults, only once the schema accepted it; returns every problem, [] when none.
   * Must be pure and must not throw. create() may repeat the checks as a safety net.
   */
  validateConfig?(config: C): ConfigIssue[];
}

export interface ReceiverFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'receiver';
  /**
   * `next` has a consumer for each signal this receiver feeds in at least one pipeline. The
   * service wraps `next` to count sonde_receiver_accepted_items_total and
   * sonde_receiver_refused_items_total for everything pushed into it; a receiver counts only
   * items it refuses before pushing (malformed input) in sonde_receiver_refused_items_total.
   */
  create(settings: CreateSettings, config: C, next: Partial<Record<Signal, Consumer>>): Receiver;
}

export interface ProcessorFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'processor';
  /** One instance per pipeline, as in the Collector. */
  create(settings: CreateSettings & { readonly pipeline: string }, config: C, next: Consumer): Processor;
}

export interface ExporterFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'exporter';
  /** One instance per exporter id, shared by every pipeline that names it. */
  create(settings: CreateSettings, config: C): Exporter;
}

export type ComponentFactory = ReceiverFactory | ProcessorFactory | ExporterFactory;
