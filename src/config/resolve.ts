// Turns a parsed config file into a validated pipeline graph, collecting every problem at once.
import type { ErrorObject } from 'ajv';
import type { ComponentFactory, ComponentId, ComponentKind, JsonSchema } from '../component/types.js';
import { parseComponentId } from '../component/id.js';
import { findFactory as defaultFindFactory } from '../components.js';
import type { Signal } from '../pdata/types.js';
import type { LogLevel } from '../telemetry/logger.js';
import { compileSchema } from './ajv.js';
import { deepFreeze, isPlainObject, mergeOverDefaults } from './merge.js';
import { joinPath, splitPath, type ConfigProblem } from './problems.js';
import { DEFAULT_ADMIN_ADDRESS, pipelineSchema, telemetrySchema } from './service-schema.js';
import { locate, type YamlSource } from './yaml-source.js';

export interface ResolvedComponent {
  id: ComponentId;
  kind: ComponentKind;
  factory: ComponentFactory;
  /** User config merged over the factory defaults, validated and frozen. */
  config: unknown;
}

export interface ResolvedPipeline {
  /** `traces`, `metrics/tcp`, ... */
  name: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ResolvedConfig {
  file: string;
  receivers: Map<string, ResolvedComponent>;
  processors: Map<string, ResolvedComponent>;
  exporters: Map<string, ResolvedComponent>;
  pipelines: ResolvedPipeline[];
  telemetry: { logLevel: LogLevel; metricsAddress: string };
}

export interface ResolveResult {
  config: ResolvedConfig | undefined;
  problems: ConfigProblem[];
}

const SECTIONS: ReadonlyArray<readonly [string, ComponentKind]> = [
  ['receivers', 'receiver'],
  ['processors', 'processor'],
  ['exporters', 'exporter'],
];
const TOP_LEVEL = new Set(['receivers', 'processors', 'exporters', 'service', 'extensions', 'connectors']);
const SIGNALS: readonly Signal[] = ['traces', 'metrics'];

type FindFactory = (kind: ComponentKind, type: string) => ComponentFactory | undefined;

export function resolveConfig(src: YamlSource, findFactory: FindFactory = defaultFindFactory): ResolveResult {
  const problems: ConfigProblem[] = [...src.problems];
  const report = (severity: 'error' | 'warning', path: (string | number)[], message: string, atKey = false): void => {
    const pos = locate(src, path, atKey);
    problems.push({ severity, path: joinPath(path), message, file: src.file, line: pos.line, col: pos.col });
  };
  if (problems.some((p) => p.severity === 'error')) return { config: undefined, problems };

  const root = src.value;
  if (!isPlainObject(root)) {
    report('error', [], 'the config must be a mapping with receivers, exporters and service');
    return { config: undefined, problems };
  }
  for (const key of Object.keys(root)) {
    if (!TOP_LEVEL.has(key)) report('error', [key], `unknown top-level key "${key}" (expected receivers, processors, exporters, service)`, true);
    else if (key === 'extensions' || key === 'connectors') report('error', [key], `"${key}" are not supported by Sonde`, true);
  }

  const sections = new Map<ComponentKind, Map<string, ResolvedComponent>>();
  for (const [section, kind] of SECTIONS) {
    const resolved = new Map<string, ResolvedComponent>();
    sections.set(kind, resolved);
    const raw = root[section];
    if (raw === undefined || raw === null) continue;
    if (!isPlainObject(raw)) {
      report('error', [section], `${section} must be a mapping of component ids to their config`);
      continue;
    }
    for (const [key, userConfig] of Object.entries(raw)) {
      const id = parseComponentId(key);
      if (!id) {
        report('error', [section, key], `invalid component id "${key}": expected "type" or "type/name"`, true);
        continue;
      }
      const factory = findFactory(kind, id.type);
      if (!factory) {
        report('error', [section, key], `unknown ${kind} type "${id.type}"`, true);
        continue;
      }
      if (userConfig !== null && userConfig !== undefined && !isPlainObject(userConfig)) {
        report('error', [section, key], `the config of ${kind} "${key}" must be a mapping`);
        continue;
      }
      const merged = mergeOverDefaults(factory.createDefaultConfig(), userConfig ?? {});
      if (!validateAgainst(factory.configSchema, merged, [section, key], report)) continue;
      if (!checkSemantics(factory, merged, [section, key], report)) continue;
      resolved.set(key, { id, kind, factory, config: deepFreeze(merged) });
    }
  }

  const service = root.service;
  const pipelines: ResolvedPipeline[] = [];
  const used = new Set<string>();
  let telemetry = { logLevel: 'info' as LogLevel, metricsAddress: DEFAULT_ADMIN_ADDRESS };
  if (!isPlainObject(service)) {
    report('error', service === undefined ? [] : ['service'], 'a "service" section with pipelines is required');
  } else {
    for (const key of Object.keys(service)) {
      if (key !== 'pipelines' && key !== 'telemetry') report('error', ['service', key], `unknown key "${key}" in service (expected pipelines, telemetry)`, true);
    }
    if (service.telemetry !== undefined) {
      if (validateAgainst(telemetrySchema, service.telemetry, ['service', 'telemetry'], report)) {
        const t = service.telemetry as { logs?: { level?: LogLevel }; metrics?: { address?: string } };
        telemetry = { logLevel: t.logs?.level ?? 'info', metricsAddress: t.metrics?.address ?? DEFAULT_ADMIN_ADDRESS };
      }
    }
    const rawPipelines = service.pipelines;
    if (!isPlainObject(rawPipelines) || Object.keys(rawPipelines).length === 0) {
      report('error', ['service', 'pipelines'], 'at least one pipeline is required, e.g. "metrics: { receivers: [...], exporters: [...] }"');
    } else {
      for (const [name, raw] of Object.entries(rawPipelines)) {
        const path = ['service', 'pipelines', name];
        const signal = name.split('/')[0] as Signal;
        if (!SIGNALS.includes(signal)) {
          report('error', path, `pipeline "${name}": unsupported signal "${signal}" (expected traces or metrics, optionally with /name)`, true);
          continue;
        }
        if (!validateAgainst(pipelineSchema, raw ?? {}, path, report)) continue;
        const p = raw as { receivers: string[]; processors?: string[]; exporters: string[] };
        const checkRefs = (list: string[], field: 'receivers' | 'processors' | 'exporters', kind: ComponentKind): string[] => {
          const defined = sections.get(kind)!;
          const seen = new Set<string>();
          list.forEach((ref, i) => {
            const where = [...path, field, i];
            if (seen.has(ref)) report('error', where, `"${ref}" is listed twice in this pipeline`);
            seen.add(ref);
            used.add(`${kind}:${ref}`);
            const c = defined.get(ref);
            const declared = isPlainObject(root[field]) && ref in (root[field] as object);
            if (!c) {
              if (!declared) report('error', where, `pipeline "${name}" references ${kind} "${ref}", which is not defined in ${field}`);
              return;
            }
            if (!c.factory.signals.includes(signal)) {
              report('error', where, `${kind} "${ref}" does not support ${signal} (it supports ${c.factory.signals.join(', ')})`);
            }
          });
          return list;
        };
        pipelines.push({
          name,
          signal,
          receivers: checkRefs(p.receivers, 'receivers', 'receiver'),
          processors: checkRefs(p.processors ?? [], 'processors', 'processor'),
          exporters: checkRefs(p.exporters, 'exporters', 'exporter'),
        });
      }
    }
  }

  for (const [section, kind] of SECTIONS) {
    for (const key of sections.get(kind)!.keys()) {
      if (!used.has(`${kind}:${key}`)) report('warning', [section, key], `${kind} "${key}" is defined but not used in any pipeline`, true);
    }
  }

  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  if (problems.some((p) => p.severity === 'error')) return { config: undefined, problems };
  const keep = (kind: ComponentKind): Map<string, ResolvedComponent> =>
    new Map([...sections.get(kind)!].filter(([key]) => used.has(`${kind}:${key}`)));
  return {
    config: {
      file: src.file,
      receivers: keep('receiver'),
      processors: keep('processor'),
      exporters: keep('exporter'),
      pipelines,
      telemetry,
    },
    problems,
  };
}

type Report = (severity: 'error' | 'warning', path: (string | number)[], message: string, atKey?: boolean) => void;

function validateAgainst(schema: JsonSchema, value: unknown, base: (string | number)[], report: Report): boolean {
  const validate = compileSchema(schema);
  if (validate(value)) return true;
  for (const { path, message, atKey } of simplifyErrors(validate.errors ?? [])) report('error', [...base, ...path], message, atKey);
  return false;
}

/** Runs the factory's own checks (those create() would otherwise fail on at start-up). */
function checkSemantics(factory: ComponentFactory, config: unknown, base: (string | number)[], report: Report): boolean {
  if (!factory.validateConfig) return true;
  let issues;
  try {
    issues = factory.validateConfig(config);
  } catch (err) {
    issues = [{ path: '', message: `the config could not be checked: ${(err as Error).message}` }];
  }
  for (const { path, message } of issues) {
    const rel = splitPath(path);
    report('error', [...base, ...rel], message, rel.length === 0);
  }
  return issues.length === 0;
}

interface Simplified {
  path: (string | number)[];
  message: string;
  atKey: boolean;
}

/** Ajv reports anyOf branches separately; users want one line per key, in plain words. */
function simplifyErrors(errors: ErrorObject[]): Simplified[] {
  const out: Simplified[] = [];
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  for (const e of errors) {
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    let message: string;
    let atKey = false;
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        path.push(extra);
        const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
        message = `unknown key "${extra}"${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
        atKey = true;
        break;
      }
      case 'anyOf':
        message = describeAnyOf(e.schema as JsonSchema[]);
        break;
      case 'type':
        message = `must be ${article((e.params as { type: string }).type)}`;
        break;
      case 'enum':
        message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'required':
        message = `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
        break;
      case 'minLength':
        message = 'must not be empty';
        break;
      case 'minimum':
      case 'maximum':
        message = `must be ${e.keyword === 'minimum' ? '>=' : '<='} ${(e.params as { limit: number }).limit}`;
        break;
      case 'format':
        message = `must be a valid ${(e.params as { format: string }).format}${formatExample((e.params as { format: string }).format)}`;
        break;
      default:
        message = e.message ?? 'is invalid';
    }
    const k = `${path.join('.')}|${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ path, message, atKey });
  }
  return out;
}

function describeAnyOf(branches: JsonSchema[]): string {
  const formats = branches.map((b) => b.format).filter(Boolean);
  if (formats.includes('duration')) return 'must be a duration with a unit, e.g. "500ms", "10s", "5m" (or 0)';
  if (formats.includes('size')) return 'must be a size in bytes or with a unit, e.g. 1048576 or "64MiB"';
  return 'does not match any of the allowed forms';
}

function formatExample(format: string): string {
  if (format === 'hostport') return ' (host:port, e.g. "127.0.0.1:8888")';
  if (format === 'duration') return ' (e.g. "500ms", "10s")';
  return '';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
