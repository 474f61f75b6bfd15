// A small seeded PRNG (xorshift32), so random tests are reproducible from a printed seed
// and run identically under Node and inside XS.

export class Random {
	private state: number;
	constructor(readonly seed: number) {
		this.state = (seed >>> 0) || 0x9E3779B9;
	}
	/** Uniform integer in [0, 2^32). */
	u32(): number {
		let x = this.state;
		x ^= x << 13; x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5; x >>>= 0;
		this.state = x;
		return x;
	}
	/** Uniform integer in [min, max]. */
	int(min: number, max: number): number {
		return min + (this.u32() % (max - min + 1));
	}
	chance(p: number): boolean {
		return this.u32() / 4294967296 < p;
	}
	pick<T>(items: readonly T[]): T {
		return items[this.int(0, items.length - 1)]!;
	}
	bytes(length: number): Uint8Array {
		const out = new Uint8Array(length);
		for (let i = 0; i < length; i++) out[i] = this.u32() & 0xFF;
		return out;
	}
}
