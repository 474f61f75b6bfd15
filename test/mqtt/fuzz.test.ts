// Runs the fuzz engine (test/suites/fuzz.ts) under Node: FUZZ_ITERATIONS streams (default 20,000),
// from FUZZ_SEED or a fresh seed that the test's name prints, so any failure can be replayed.

import * as assert from "node:assert/strict";
import { formatStats, fuzz } from "../suites/fuzz.js";

function fromEnvironment(name: string, fallback: number): number {
	const text = process.env[name];
	if (text === undefined || text === "") return fallback;
	const value = Number(text);
	if (!Number.isInteger(value) || value < 0 || value > 0xFFFF_FFFF) throw new Error(`${name} must be an integer in 0..2^32-1, not "${text}"`);
	return value;
}

const iterations = fromEnvironment("FUZZ_ITERATIONS", 20_000);
const seed = fromEnvironment("FUZZ_SEED", (Date.now() ^ (process.pid << 16)) >>> 0);

describe("fuzz (Node)", function () {
	it(`${iterations} streams of random and mutated bytes through PacketReader, seed ${seed} (FUZZ_SEED=${seed} replays it)`, function () {
		this.timeout(30_000 + iterations * 5);
		const started = Date.now();
		const stats = fuzz(seed, iterations);
		console.log(`      ${formatStats(stats).replace(/\n/g, "\n      ")}\n      ${Date.now() - started} ms`);
		assert.equal(stats.streams, iterations, "streams run");
		assert.equal(stats.random + stats.valid + stats.mutated, iterations, "streams by kind");
		if (iterations >= 1_000) {
			// Enough streams that every kind of outcome must have occurred; if not, the fuzzer went blind.
			assert.ok(stats.packets > iterations, `only ${stats.packets} packets`);
			assert.ok(stats.oversize > 0, "no oversize PUBLISH was reported");
			assert.ok(stats.verified > iterations / 5, `only ${stats.verified} valid streams verified`);
			assert.ok(stats.resets > 0, "the reader was never reset and reused");
			const codes = Object.keys(stats.errors);
			assert.ok(codes.length >= 15, `only ${codes.length} distinct error codes: ${codes.join(", ")}`);
			assert.ok((stats.errors.PACKET_TOO_LARGE ?? 0) > 0 && (stats.errors.LENGTH_MISMATCH ?? 0) > 0 && (stats.errors.MALFORMED_UTF8 ?? 0) > 0, "common errors missing");
		}
	});
});
