import { readFileSync } from 'node:fs';
import { LineCounter, Document, isMap, isPair, isScalar, isSeq, parseDocument, parse as parseYaml, visit, type Node } from 'yaml';
import { SondeError } from '../errors/index.js';
import { expandEnv, hasEnvReference } from './env.js';
import type { ConfigProblem } from './problems.js';

/** A parsed config file that can still answer "where in the file is this key path?". */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Plain JS value after env substitution. */
  value: unknown;
  problems: ConfigProblem[];
}

export function readYamlSource(file: string, env: NodeJS.ProcessEnv = process.env): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SondeError('SONDE_CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(err as Error).message}`, {
      hint: 'pass the path with --config FILE',
      cause: err,
    });
  }
  return parseYamlSource(file, text, env);
}

export function parseYamlSource(file: string, text: string, env: NodeJS.ProcessEnv = process.env): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(e.pos[0]);
    problems.push({
      severity: doc.errors.includes(e as never) ? 'error' : 'warning',
      path: '',
      message: `YAML: ${e.message.split('\n')[0]}`,
      file,
      line: pos.line,
      col: pos.col,
    });
  }
  if (doc.errors.length === 0) substituteEnv(doc, file, lineCounter, env, problems);
  let value: unknown;
  if (doc.errors.length === 0) {
    // toJS resolves aliases and can still fail (an alias to an unknown anchor, an alias bomb).
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      problems.push({ severity: 'error', path: '', message: `YAML: ${(err as Error).message}`, file, line: 1, col: 1 });
    }
  }
  return { file, doc, lineCounter, value, problems };
}

function substituteEnv(doc: Document.Parsed, file: string, lc: LineCounter, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !hasEnvReference(node.value)) return;
      const { value, missing, whole } = expandEnv(node.value, env);
      for (const name of missing) {
        const pos = lc.linePos(node.range?.[0] ?? 0);
        problems.push({ severity: 'warning', path: '', message: `environment variable ${name} is not set; using ""`, file, line: pos.line, col: pos.col });
      }
      // A scalar that was only a reference takes the type its value has in YAML (8080 -> number).
      if (whole && value !== '') {
        try {
          const typed = parseYaml(value);
          node.value = typed !== null && typeof typed !== 'object' ? typed : value;
          return;
        } catch {
          // not valid YAML on its own: keep the string
        }
      }
      node.value = value;
    },
  });
}

/** Line and column (1-based) of the node at `path`; with `atKey`, of the key itself. */
export function locate(src: YamlSource, path: readonly (string | number)[], atKey = false): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let best: Node | undefined = src.doc.contents ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const last = i === path.length - 1;
      if (last && atKey && isScalar(pair.key)) {
        best = pair.key;
        break;
      }
      node = pair.value;
      best = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) break;
      best = node as Node;
    } else {
      break;
    }
  }
  const offset = best?.range?.[0] ?? 0;
  return src.lineCounter.linePos(offset);
}
