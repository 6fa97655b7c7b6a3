// BPF_PROG_TEST_RUN through libbpf (bpf_prog_test_run_opts), which Sonde's libbpf layer does not
// bind: the ingest benchmark uses it to run its generator program in the kernel on demand.
import koffi from 'koffi';

type Fn = (...args: any[]) => any;
let testRun: Fn | undefined;

/** struct bpf_test_run_opts as of libbpf 1.1 (80 bytes on 64-bit). */
const OPTS_SIZE = 80;
const OFF = { sz: 0, ctxIn: 32, ctxSizeIn: 48, retval: 56 } as const;

/**
 * Runs program `progFd` once with `ctx` as its context (prog type `syscall`); returns the
 * program's return value. Throws on a failed syscall.
 */
export function bpfProgTestRun(progFd: number, ctx: Uint8Array): number {
  if (!testRun) {
    const lib = koffi.load('libbpf.so.1');
    testRun = lib.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)');
  }
  const opts = Buffer.alloc(OPTS_SIZE);
  opts.writeBigUInt64LE(BigInt(OPTS_SIZE), OFF.sz);
  opts.writeBigUInt64LE(koffi.address(ctx), OFF.ctxIn);
  opts.writeUInt32LE(ctx.byteLength, OFF.ctxSizeIn);
  const rc = testRun!(progFd, opts) as number;
  if (rc !== 0) throw new Error(`BPF_PROG_TEST_RUN failed: ${rc}`);
  return opts.readUInt32LE(OFF.retval);
}
