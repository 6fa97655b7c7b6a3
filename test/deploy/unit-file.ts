// A small reader for systemd unit files: enough to take the command lines, user and capability
// settings out of deploy/systemd/sonde.service exactly as systemd would read them.
import { readFileSync } from 'node:fs';

export type UnitFile = Map<string, Map<string, string[]>>;

/** Sections -> keys -> values in file order (a key may repeat, e.g. ExecStartPre). */
export function parseUnitFile(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // A trailing backslash continues the value on the next line.
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`unit file: cannot parse line ${i + 1}: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    section.set(key, [...(section.get(key) ?? []), value]);
  }
  return unit;
}

export function readUnitFile(path: string): UnitFile {
  return parseUnitFile(readFileSync(path, 'utf8'));
}

export function unitValues(unit: UnitFile, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

export function unitValue(unit: UnitFile, section: string, key: string): string {
  const v = unitValues(unit, section, key);
  if (v.length !== 1) throw new Error(`unit file: expected exactly one ${section}.${key}, found ${v.length}`);
  return v[0]!;
}

export interface UnitCommand {
  /** systemd's special prefixes: '+' (full privileges), '-' (failure ignored), '@', '!', ':'. */
  prefixes: string;
  argv: string[];
}

/** Splits an Exec*= value as systemd does: prefixes, then words with "double"/'single' quotes. */
export function splitCommand(value: string): UnitCommand {
  const m = /^([-+@!:]*)(.*)$/s.exec(value)!;
  const argv: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let inWord = false;
  for (const ch of m[2]!) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) argv.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unit file: unterminated quote in ${value}`);
  if (inWord) argv.push(cur);
  return { prefixes: m[1]!, argv };
}

/** Capability names of a space-separated list such as "CAP_BPF CAP_PERFMON", in file order. */
export function capabilityList(value: string): string[] {
  return value.split(/\s+/).filter(Boolean);
}

/** Environment= values (each may hold several NAME=value words) as an object. */
export function unitEnvironment(unit: UnitFile): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of unitValues(unit, 'Service', 'Environment')) {
    for (const word of splitCommand(v).argv) {
      const eq = word.indexOf('=');
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  return env;
}
