// ${env:NAME} and ${env:NAME:-default} in any scalar value, as in the Collector. `$$` escapes `$`.

const REF = /\$\$|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

export interface Expansion {
  value: string;
  /** Names referenced without a default and not set: expanded to the empty string. */
  missing: string[];
  /** True when the whole scalar was one reference, so the result may be re-typed (number, bool). */
  whole: boolean;
}

export function expandEnv(input: string, env: NodeJS.ProcessEnv): Expansion {
  const missing: string[] = [];
  const value = input.replace(REF, (match, name: string | undefined, dflt: string | undefined) => {
    if (match === '$$') return '$';
    const v = env[name!];
    if (v !== undefined && v !== '') return v;
    if (dflt !== undefined) return dflt;
    missing.push(name!);
    return '';
  });
  return { value, missing, whole: WHOLE.test(input) };
}

export function hasEnvReference(input: string): boolean {
  return input.includes('$');
}
