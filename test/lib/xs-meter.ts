// Measures workloads inside the XS engine with its deterministic meter: compute per operation,
// heap slots allocated while running (no GC in between) and live heap growth after gc().

import { XsWorker } from "../../hosts/xs/worker.js";

export interface XsFigures {
	/** XS compute units per operation, loop overhead subtracted. */
	computePerOp: number;
	/** Heap slots allocated across `count` operations (counted before any gc()). */
	allocatedSlots: number;
	/** Live heap slots after gc(), minus before: what the operations retained. */
	heapGrowth: number;
	count: number;
}

/** A worker with a module loaded that registers `globalThis.workloads` and sets `readyFlag`. */
export async function startWorkloads(modulePath: string, readyFlag: string): Promise<XsWorker> {
	const worker = new XsWorker({ onStderr: (t) => process.stderr.write(t) });
	await worker.importModule(modulePath);
	const ready = await worker.evaluate(`globalThis.${readyFlag} === true ? new TextEncoder().encode("ready").buffer : undefined`);
	if (ready.text !== "ready") {
		await worker.close();
		throw new Error(`${modulePath} did not load inside XS (no ${readyFlag})`);
	}
	return worker;
}

async function compute(worker: XsWorker, name: string, n: number): Promise<number> {
	return (await worker.evaluate(`workloads[${JSON.stringify(name)}](${n})`)).meter.compute;
}

/** Slots allocated by `code` (before any collection) and live slots it left behind (after gc()). */
async function heapAround(worker: XsWorker, code: string): Promise<{ allocated: number; growth: number }> {
	const before = (await worker.evaluate("gc()")).meter.currentHeapCount;
	const during = (await worker.evaluate(code)).meter.currentHeapCount;
	const after = (await worker.evaluate("gc()")).meter.currentHeapCount;
	return { allocated: during - before, growth: after - before };
}

/**
 * Measures `workloads[name]` over `count` operations (after a warm-up of the same size). With
 * `prepare`, each run comes after `workloads[prepare](n)` in a crank of its own, not measured: for
 * operations that use up what was prepared (acknowledgements for messages published beforehand).
 */
export async function measure(worker: XsWorker, name: string, count = 10_000, prepare?: string): Promise<XsFigures> {
	const ready = async (n: number): Promise<void> => {
		if (prepare !== undefined) await worker.evaluate(`workloads[${JSON.stringify(prepare)}](${n})`);
	};
	const run = async (n: number): Promise<number> => {
		await ready(n);
		return compute(worker, name, n);
	};
	await run(count); // warm-up: first-use caches, lazily made objects
	const zero = await run(0);
	const many = await run(count);
	const emptyZero = await compute(worker, "empty", 0);
	const emptyMany = await compute(worker, "empty", count);
	await ready(count);
	const heap = await heapAround(worker, `workloads[${JSON.stringify(name)}](${count})`);
	// The same crank with the empty workload: what evaluating a crank costs by itself.
	const base = await heapAround(worker, `workloads["empty"](${count})`);
	return {
		computePerOp: ((many - zero) - (emptyMany - emptyZero)) / count,
		allocatedSlots: heap.allocated - base.allocated,
		heapGrowth: heap.growth - base.growth,
		count,
	};
}
