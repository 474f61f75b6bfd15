// The fuzz engine (test/suites/fuzz.ts) inside the real XS engine: the same checks as under Node, and
// proof that fuzzing retains no memory, from the live heap count after gc() around two batches.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { XsWorker } from "../../hosts/xs/worker.js";
import type { FuzzStats } from "../suites/fuzz.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const BATCH = 1_500;
const seed = ((): number => {
	const text = process.env.FUZZ_SEED;
	return text ? Number(text) >>> 0 : (Date.now() ^ (process.pid << 12)) >>> 0;
})();

describe("fuzz (XS engine)", function () {
	this.timeout(120_000);
	let worker: XsWorker;
	before(async () => {
		worker = new XsWorker({ onStderr: (t) => process.stderr.write(t) });
		await worker.importModule(path.join(here, "fuzz-entry.js"));
		const ready = await worker.evaluate("globalThis.xsFuzzReady === true && typeof runFuzz === 'function' ? new TextEncoder().encode('ready').buffer : undefined");
		assert.equal(ready.text, "ready", "the fuzz module did not load inside XS");
	});
	after(async () => worker?.close());

	/** Live heap slots: a crank that only collects, so the meter counts what survives. */
	async function live(): Promise<number> {
		return (await worker.evaluate("gc()")).meter.currentHeapCount;
	}

	async function batch(batchSeed: number): Promise<FuzzStats> {
		const reply = await worker.evaluate(`runFuzz(${batchSeed}, ${BATCH})`);
		const parsed = JSON.parse(reply.text) as { marker: string; stats?: FuzzStats; error?: string };
		assert.equal(parsed.marker, "XS-FUZZ-COMPLETE", "runFuzz did not finish");
		if (parsed.error !== undefined) assert.fail(`inside XS: ${parsed.error}`);
		const stats = parsed.stats!;
		assert.equal(stats.streams, BATCH, "streams run");
		assert.ok(stats.packets > BATCH / 2 && stats.verified > BATCH / 5, `too little reached the reader: ${JSON.stringify(stats)}`);
		assert.ok(Object.keys(stats.errors).length >= 10, `only ${Object.keys(stats.errors).length} distinct error codes`);
		return stats;
	}

	it(`two batches of ${BATCH} streams, seeds ${seed} and ${(seed + 1) >>> 0} (FUZZ_SEED=${seed} replays them): only packets and typed errors, and no live heap growth`, async () => {
		const before = await live();
		const first = await batch(seed);
		const afterFirst = await live();
		const second = await batch((seed + 1) >>> 0);
		const afterSecond = await live();
		// The control: a crank that does nothing. The worker keeps one live slot per crank it
		// evaluates, whatever the crank does (an empty crank and its gc() add 2), so that is the
		// exact growth each batch with its gc() may show; anything more was retained by fuzzing.
		await worker.evaluate("undefined");
		const perCrankPair = (await live()) - afterSecond;
		console.log(`      XS: ${first.packets + second.packets} packets, ${first.oversize + second.oversize} oversize, errors ${JSON.stringify(first.errors)}`);
		console.log(`      live heap slots after gc(): ${before} before, ${afterFirst} after the first batch, ${afterSecond} after the second (an empty crank adds ${perCrankPair})`);
		assert.ok(perCrankPair >= 0 && perCrankPair <= 4, `an empty crank changed the live heap by ${perCrankPair} slots`);
		assert.equal(afterSecond - afterFirst, perCrankPair, "live heap growth over the second batch, beyond what any crank adds");
		assert.equal(afterFirst - before, perCrankPair, "live heap growth over the first batch (nothing lazily kept either)");
	});
});
