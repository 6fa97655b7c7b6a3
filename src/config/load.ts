import { SondeError } from '../errors/index.js';
import { formatProblem, type ConfigProblem } from './problems.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import { readYamlSource } from './yaml-source.js';

export interface LoadResult {
  config: ResolvedConfig | undefined;
  problems: ConfigProblem[];
}

/** Reads, substitutes, validates. Never throws for bad content: every problem is returned. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const src = readYamlSource(file, env);
  return resolveConfig(src);
}

/** For callers that want the config or one error listing every problem. */
export function loadConfigOrThrow(file: string, env: NodeJS.ProcessEnv = process.env): { config: ResolvedConfig; warnings: ConfigProblem[] } {
  const { config, problems } = loadConfig(file, env);
  if (!config) {
    const syntax = problems.some((p) => p.message.startsWith('YAML:'));
    throw new SondeError(
      syntax ? 'SONDE_CONFIG_SYNTAX' : 'SONDE_CONFIG_INVALID',
      `${file} has ${problems.filter((p) => p.severity === 'error').length} problem(s):\n${problems.map(formatProblem).join('\n')}`,
      { hint: 'run `sonde validate --config FILE` to list them again after fixing' },
    );
  }
  return { config, warnings: problems.filter((p) => p.severity === 'warning') };
}
