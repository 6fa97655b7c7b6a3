// One process per persistent queue directory. LMDB itself lets two processes open the same file,
// but two Sonde processes on one queue would both send the same batches and, each numbering new
// records from what it saw at open, overwrite each other's records. So the store first creates a
// lock file with O_EXCL holding its pid and the process start time (from /proc, which tells the
// owner from an unrelated process that got its pid later). A lock whose owner is gone (SIGKILL,
// OOM kill, crash) is taken over; the same process opening the directory again (a config reload)
// shares the lock; any other live owner is refused with SONDE_QUEUE_STORAGE_FAILED.
import { closeSync, linkSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SondeError, permanentError } from '../../../errors/index.js';

export const LOCK_FILE = 'sonde.lock';

/** A lock file whose content cannot be read is another process's lock being written, unless older than this. */
const UNREADABLE_GRACE_MS = 2000;

interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22); '' when unknown. */
  start: string;
}

/** Holders in this process, by lock path: the same directory opened twice (reload) shares the file. */
const heldHere = new Map<string, number>();

/** Start time and state of a process from /proc, or undefined when it does not exist (or no /proc). */
function procStat(pid: number): { start: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', start: rest[19] ?? '' };
  } catch {
    return undefined;
  }
}

let ownStart: string | undefined;
function self(): Owner {
  ownStart ??= procStat(process.pid)?.start ?? '';
  return { pid: process.pid, start: ownStart };
}

function render(owner: Owner): string {
  return `${owner.pid}\n${owner.start}\n`;
}

function parse(text: string): Owner | undefined {
  const [pidLine, start = ''] = text.split('\n');
  const pid = Number(pidLine);
  return Number.isInteger(pid) && pid > 0 ? { pid, start: start.trim() } : undefined;
}

function isSelf(owner: Owner): boolean {
  const me = self();
  return owner.pid === me.pid && (owner.start === '' || me.start === '' || owner.start === me.start);
}

/** True while the owner process still runs (not a zombie, not a later process with the same pid). */
function alive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists, run by another user.
  }
  const stat = procStat(owner.pid);
  if (stat === undefined) return true; // no /proc: trust kill(0)
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return owner.start === '' || stat.start === '' || stat.start === owner.start;
}

function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * Removes a stale lock whose content was `staleText`. It is moved aside first (atomic), then
 * checked: if another process replaced the stale file with its own lock in the meantime, that lock
 * is put back (link fails if the path is taken again), so a live lock is never deleted by mistake.
 */
function removeStale(path: string, staleText: string): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it
    throw err;
  }
  if (readLock(aside) !== staleText) {
    try {
      linkSync(aside, path);
    } catch {
      // the path was taken again meanwhile: the retry reads that owner
    }
  }
  unlinkSync(aside);
}

export interface DirectoryLock {
  readonly path: string;
  /** Removes the lock file once the last holder in this process releases it. Idempotent. */
  release(): void;
}

function storageFailed(directory: string, message: string, cause?: unknown) {
  return permanentError('SONDE_QUEUE_STORAGE_FAILED', `cannot open the persistent queue in ${directory}: ${message}`, {
    hint: 'Each sending_queue.storage_dir serves one Sonde process: give every process its own storage_dir, or stop the other process.',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Takes the lock of `directory` (which must exist) or throws SONDE_QUEUE_STORAGE_FAILED naming the owner. */
export function lockDirectory(directory: string): DirectoryLock {
  try {
    return takeLock(directory);
  } catch (err) {
    if (err instanceof SondeError) throw err;
    throw storageFailed(directory, `cannot use the lock file ${join(directory, LOCK_FILE)}: ${(err as Error).message}`, err);
  }
}

function takeLock(directory: string): DirectoryLock {
  // One spelling per directory, so that a re-open through another path still shares the lock.
  const path = join(realpathSync(directory), LOCK_FILE);
  const handle = (): DirectoryLock => {
    let released = false;
    return {
      path,
      release(): void {
        if (released) return;
        released = true;
        const left = (heldHere.get(path) ?? 1) - 1;
        if (left > 0) {
          heldHere.set(path, left);
          return;
        }
        heldHere.delete(path);
        try {
          const text = readLock(path);
          const owner = text === undefined ? undefined : parse(text);
          if (owner && isSelf(owner)) unlinkSync(path);
        } catch {
          // Left behind, it names this pid; once this process is gone the next one takes it over.
        }
      },
    };
  };
  const held = heldHere.get(path);
  if (held !== undefined) {
    heldHere.set(path, held + 1);
    return handle();
  }
  // A few rounds: each lost race (the file appearing or vanishing between two calls) costs one.
  for (let round = 0; round < 5; round++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644); // O_CREAT | O_EXCL | O_WRONLY
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageFailed(directory, `cannot create the lock file ${path}: ${(err as Error).message}`, err);
      const text = readLock(path);
      if (text === undefined) continue;
      const owner = parse(text);
      if (owner === undefined) {
        if (ageMs(path) < UNREADABLE_GRACE_MS) throw storageFailed(directory, `the lock file ${path} is being written by another process`);
      } else if (isSelf(owner)) {
        // Left by this process (a store not closed before the directory was opened again).
        heldHere.set(path, 1);
        return handle();
      } else if (alive(owner)) {
        throw storageFailed(directory, `it is in use by another Sonde process (pid ${owner.pid}, lock file ${path})`);
      }
      removeStale(path, text);
      continue;
    }
    try {
      writeSync(fd, render(self()));
    } catch (err) {
      closeSync(fd);
      unlinkSync(path); // an empty lock file would hold the directory for the grace period
      throw storageFailed(directory, `cannot write the lock file ${path}: ${(err as Error).message}`, err);
    }
    closeSync(fd);
    heldHere.set(path, 1);
    return handle();
  }
  throw storageFailed(directory, `could not take the lock file ${path}: other processes keep creating it`);
}
