// Checks Kubernetes manifests offline against the schemas of one Kubernetes release, with two npm
// packages and nothing to install beside `npm ci`:
// - kubernetes-models: ajv validators compiled from the Kubernetes OpenAPI schema (types, required
//   fields, enums, formats). Like that schema, they let fields they do not know through.
//   kubernetes-models 5.x declares Node >= 22; the validators are plain ESM and run on our Node 20
//   (the tests below would fail to load them otherwise).
// - @kubernetes/client-node (already a dependency): its generated models list every field of
//   every API type. Walking the manifest along them finds unknown (e.g. misspelt) fields, which the
//   API server drops or rejects (kubectl --validate=strict) instead of applying. Its models are of
//   Kubernetes 1.34: a field added in 1.35 or 1.36 would be reported unknown, so using one means
//   upgrading @kubernetes/client-node first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { REPO } from './tools.js';

/**
 * The Kubernetes release whose schemas kubernetes-models 5.1 is generated from (its changelog:
 * "Update to Kubernetes v1.36.0"). schemaPackageVersion() lets a test notice an upgrade.
 */
export const KUBERNETES_VERSION = '1.36';
export const SCHEMA_PACKAGE = 'kubernetes-models';

export function schemaPackageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO, 'node_modules', SCHEMA_PACKAGE, 'package.json'), 'utf8')) as { version: string }).version;
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: any): { validate(): void };
}

// The kinds Sonde ships; any other kind is an error rather than an unchecked manifest.
const MODELS = new Map<string, ModelClass>(
  [DaemonSet, Deployment, ClusterRole, ClusterRoleBinding, ConfigMap, Namespace, ServiceAccount].map((m) => [`${m.apiVersion}/${m.kind}`, m as unknown as ModelClass]),
);

type Attribute = { baseName: string; type: string };
type ClientModel = { getAttributeTypeMap?: () => Attribute[] };
const clientModels = k8s as unknown as Record<string, ClientModel | undefined>;
// Types client-node leaves as they come; their values are checked by the schema.
const OPAQUE = new Set(['string', 'number', 'boolean', 'any', 'object', 'Date', 'IntOrString']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined || OPAQUE.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (isObject(value)) for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const model = clientModels[type];
  if (!model?.getAttributeTypeMap) throw new Error(`no client-node model for type ${type} (at ${path})`);
  if (!isObject(value)) return; // a wrong type: the schema reports it
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${path}.${k}`);
    else unknownFields(v, t, `${path}.${k}`, out);
  }
}

/** Every problem of one manifest, each prefixed with `kind/name:`; empty when it is valid. */
export function validateManifest(manifest: unknown): string[] {
  if (!isObject(manifest)) return ['manifest: not an object'];
  const { apiVersion, kind } = manifest as { apiVersion?: unknown; kind?: unknown };
  const name = isObject(manifest.metadata) ? String(manifest.metadata.name) : '?';
  const where = `${String(kind)}/${name}`;
  const Model = MODELS.get(`${String(apiVersion)}/${String(kind)}`);
  if (!Model) return [`${where}: no schema for apiVersion ${String(apiVersion)} kind ${String(kind)}`];
  const problems: string[] = [];
  try {
    new Model(structuredClone(manifest)).validate();
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  const version = String(apiVersion).split('/').at(-1)!;
  const unknown: string[] = [];
  unknownFields(manifest, `${version[0]!.toUpperCase()}${version.slice(1)}${String(kind)}`, '', unknown);
  for (const path of unknown) problems.push(`${where}: unknown field ${path.slice(1)}`);
  return problems;
}
