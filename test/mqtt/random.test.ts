// The seeded random numbers hosts give the client for its reconnect jitter (modules/mqtt/random.ts).

import * as assert from "node:assert/strict";
import { hashSeed, seededRandom } from "../../modules/mqtt/random.js";

describe("seeded random numbers (reconnect jitter)", () => {
	it("are uniform in [0, 1): 10,000 draws spread over ten bins of about 1,000 each", () => {
		const random = seededRandom(12345);
		const bins = new Array<number>(10).fill(0);
		for (let i = 0; i < 10_000; i++) {
			const x = random();
			assert.ok(x >= 0 && x < 1, `${x} outside [0, 1)`);
			bins[Math.floor(x * 10)]!++;
		}
		for (const n of bins) assert.ok(n > 850 && n < 1150, `bins ${bins.join(", ")}`);
	});

	it("the same seed gives the same sequence; another seed, another one", () => {
		const draw = (seed: number) => { const r = seededRandom(seed); return [r(), r(), r(), r()]; };
		assert.deepEqual(draw(7), draw(7));
		assert.notDeepEqual(draw(7), draw(8));
		// Seeds beyond 32 bits and negative ones are taken modulo 2^32, not refused.
		assert.deepEqual(draw(-1), draw(0xffffffff));
	});

	it("hashSeed tells MAC addresses apart that differ in one digit, and takes a seed to mix in", () => {
		assert.notEqual(hashSeed("24:0a:c4:12:34:56"), hashSeed("24:0a:c4:12:34:57"));
		assert.notEqual(hashSeed("24:0a:c4:12:34:56", 1), hashSeed("24:0a:c4:12:34:56", 2));
		assert.equal(hashSeed("x"), hashSeed("x"));
		const h = hashSeed("24:0a:c4:12:34:56");
		assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
	});
});
