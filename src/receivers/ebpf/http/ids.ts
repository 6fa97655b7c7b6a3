// Random trace and span ids as lowercase hex, drawn from a refilled pool of random bytes so a
// span costs no crypto call of its own.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8192;

export class IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private pos = POOL_SIZE;

  private take(n: number): string {
    if (this.pos + n > POOL_SIZE) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const s = this.pool.toString('hex', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  traceId(): string {
    const id = this.take(16);
    return id === '00000000000000000000000000000000' ? this.traceId() : id;
  }

  spanId(): string {
    const id = this.take(8);
    return id === '0000000000000000' ? this.spanId() : id;
  }
}
