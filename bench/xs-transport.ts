// The Moddable transport's write inside the XS engine (test/lib/xs/transport-worker.ts), measured
// against the per-byte staged write kept in test/lib/xs/transport-workloads.ts.

import type { XsWorker } from "../hosts/xs/worker.js";
import { measure } from "../test/lib/xs-meter.js";
import { startTransportWorker } from "../test/lib/xs/transport-worker.js";

/** The 1,000-byte write may cost at most this much more than the 16-byte one. */
const LENGTH_TARGET = 1.1;

interface Section {
	lines: string[];
	failures: string[];
}

/** `expression` evaluated inside XS, as JSON. */
async function ask<T>(worker: XsWorker, expression: string): Promise<T> {
	return JSON.parse((await worker.evaluate(`new TextEncoder().encode(JSON.stringify(${expression})).buffer`)).text) as T;
}

/**
 * Heap slots allocated per operation, counted over a few operations only: the collector would run
 * inside a long crank of an allocating workload and hide what it freed. Two sizes must agree.
 */
async function slotsPerOp(worker: XsWorker, name: string): Promise<number> {
	const small = await measure(worker, name, 20);
	const large = await measure(worker, name, 40);
	if (large.allocatedSlots !== 2 * small.allocatedSlots) throw new Error(`${name}: ${small.allocatedSlots} slots over 20 writes but ${large.allocatedSlots} over 40`);
	return small.allocatedSlots / 20;
}

interface Row {
	label: string;
	bytes: number;
	/** Whether compute per byte means anything (not for a client's whole exchange). */
	perByte: boolean;
	compute: number;
	slots: number;
	socketWrites: number;
}

export async function transportSection(quick: boolean): Promise<Section> {
	const count = quick ? 200 : 10_000;
	const failures: string[] = [];
	const { worker, cleanup } = await startTransportWorker();
	try {
		const publishBytes = await ask<number>(worker, "transportRig.PUBLISH_BYTES");
		const row = async (label: string, name: string, bytes: number, perByte = true): Promise<Row> => {
			const compute = (await measure(worker, name, count)).computePerOp;
			const socketWrites = (await ask<Record<string, number>>(worker, "transportSocketWrites"))[name] ?? NaN;
			return { label, bytes, perByte, compute, slots: await slotsPerOp(worker, name), socketWrites };
		};
		const sizes: Array<[string, number]> = [["16", 16], ["Publish", publishBytes], ["1000", 1000]];
		const before: Row[] = [];
		const moving: Row[] = [];
		const same: Row[] = [];
		for (const [suffix, bytes] of sizes) before.push(await row("before: per-byte copy into staging views (moving)", `staged${suffix}`, bytes));
		for (const [suffix, bytes] of sizes) moving.push(await row("transport: a new view each write (moving)", `writeMoving${suffix}`, bytes));
		for (const [suffix, bytes] of sizes) same.push(await row("transport: its view kept (same place)", `write${suffix}`, bytes));
		const whole = await row("transport: a whole buffer (the QoS 0 payload), as it is", "writeWhole", 64);
		const clientRows: Row[] = [
			await row("client over the transport: publish QoS 0 (header and topic, then the payload)", "clientPublishQos0", publishBytes - 2, false),
			await row("client over the transport: publish QoS 1, read its PUBACK", "clientPublishQos1", publishBytes, false),
		];
		const lines = [
			"## The Moddable transport's write in the XS engine",
			"",
			"hosts/moddable/transport.ts, compiled for XS, over a stub of the SDK's TCP socket that only counts bytes;",
			`${count.toLocaleString("en")} operations each. The writes come from inside a 2,048-byte buffer (as from a client's pool):`,
			"\"moving\" ones start at 128 and 129 in turn, so that none is of the place written last; \"same place\" ones at 128",
			`every time. The ${publishBytes}-byte write is a QoS 1 PUBLISH (24-byte topic, 64-byte payload). "Before" is the per-byte`,
			"copy into power-of-two staging views, one socket write per view, kept in test/lib/xs/transport-workloads.ts. The",
			"client rows are a connected client over this transport (CONNACK and PUBACKs fed in through the stub).",
			"Compute is per operation with the loop's own cost subtracted; slots allocated per operation are counted",
			"over 20 and 40 operations (they must agree).",
			"**Targets: no per-byte copy (a 1,000-byte write costs at most 1.10× a 16-byte one); the client over it allocates nothing.**",
			"",
			"| Operation | Bytes | Compute per op | Compute per byte | Slots allocated per op | Socket writes per op |",
			"| --- | ---: | ---: | ---: | ---: | ---: |",
			...[...before, ...moving, ...same, whole, ...clientRows].map((r) => `| ${r.label} | ${r.bytes} | ${r.compute.toFixed(1)} | ${r.perByte ? (r.compute / r.bytes).toFixed(2) : "—"} | ${r.slots} | ${r.socketWrites} |`),
		];
		// The moving rows are the worst case: each write makes its view.
		const scaling = moving[2]!.compute / moving[0]!.compute;
		const met = scaling <= LENGTH_TARGET;
		lines.push("", `A 1,000-byte write costs **${scaling.toFixed(2)}×** a 16-byte one (target ≤ ${LENGTH_TARGET.toFixed(2)}: ${met ? "met" : "**missed**"}); ` +
			`the ${publishBytes}-byte PUBLISH costs ${moving[1]!.compute.toFixed(1)} (${same[1]!.compute.toFixed(1)} at the same place) instead of ${before[1]!.compute.toFixed(1)}, ` +
			`${(before[1]!.compute / moving[1]!.compute).toFixed(1)}× less.`);
		if (!met) failures.push(`Moddable transport write: 1,000 bytes cost ${scaling.toFixed(2)}× 16 bytes (target ≤ ${LENGTH_TARGET.toFixed(2)})`);
		const allocating = clientRows.filter((r) => r.slots !== 0);
		lines.push(`The client over the transport allocates ${allocating.length === 0 ? "nothing (target: met)" : `per operation: ${allocating.map((r) => `${r.slots} slots in "${r.label}"`).join(", ")} (target: **missed**)`}.`);
		for (const r of allocating) failures.push(`${r.label}: ${r.slots} slots allocated per operation`);
		return { lines, failures };
	}
	finally {
		await worker.close();
		cleanup();
	}
}
