// The hostile byte scripts replayed to a Client inside the real XS engine, over an allocation-free
// transport: handling each one and the reconnect leaves the live heap as it was, however often.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorkloads } from "../lib/xs-meter.js";
import type { XsWorker } from "../../hosts/xs/worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/*
 * What is counted, with the method of test/lib/xs-meter.ts. The XS meter reports `currentHeapCount`,
 * the heap slots in use (objects, properties, closures, string and buffer headers), and `allocate`,
 * the bytes XS has taken from the system for slots and chunks (string and ArrayBuffer contents);
 * `allocate` only ever grows, and only when the heaps must be extended.
 *
 * - Allocated slots (counted before any collection) are NOT zero per hostile input: the error path
 *   makes an MqttError and its message (about 25-35 slots per cycle here), and a SUBSCRIBE makes its
 *   request. That is expected; those objects are garbage once reported.
 * - Live slots after gc() are what must not grow: a cycle (misbehaviour, typed error, close, backoff,
 *   reconnect, DUP re-sends, acknowledgements) must leave nothing behind. Measured as the growth
 *   across a crank of n cycles, minus that of an empty crank, for n = 10 and n = 1,000: both 0.
 * - Receive and transmit buffers, the message pool and the clients were made before measuring; the
 *   scripts are static byte arrays. The scripted transport copies bytes and allocates nothing.
 * - Chunk bytes: a buffer of the announced 268,435,455 bytes would extend the chunk heap (`allocate`
 *   grows by about that much; the control below shows it does); replaying the announcement does not.
 */

interface Figures {
	/** Slots allocated by the crank (before any collection), minus an empty crank's. */
	allocated: number;
	/** Live slots after gc(), minus before, minus an empty crank's. */
	live: number;
	/** Growth of `allocate` (bytes XS took from the system) across the crank and gc(). */
	bytes: number;
}

const CASES: ReadonlyArray<readonly [string, string]> = [
	["rlMax", "a PUBLISH announcing 268,435,455 bytes, then silence (KEEPALIVE_TIMEOUT)"],
	["subackMax", "a SUBACK announcing 268,435,455 bytes (PACKET_TOO_LARGE)"],
	["fifthByte", "a fifth remaining-length byte (MALFORMED_REMAINING_LENGTH)"],
	["qos3", "a PUBLISH with QoS 3 (INVALID_QOS)"],
	["pubackFlags", "a PUBACK with flags 0001 (INVALID_FLAGS)"],
	["pubrelFlags", "a PUBREL with flags 0000 (INVALID_FLAGS)"],
	["badUtf8", "malformed UTF-8 in a topic (MALFORMED_UTF8)"],
	["garbage", "32 different sequences of random bytes after CONNACK (their own codes)"],
	["connackLength", "a CONNACK of remaining length 3 (LENGTH_MISMATCH)"],
	["pubackUnknown", "a PUBACK for an unknown identifier (UNKNOWN_PACKET_ID)"],
	["subackCount", "a SUBACK with two return codes for one filter (SUBACK_COUNT_MISMATCH)"],
	["connectTimeout", "silence after the accept (CONNECT_TIMEOUT)"],
	["dribbleValid", "a valid PUBLISH dribbled one byte per 100 ms (received, no close)"],
	["endless", "an endless PUBLISH announced at 268,435,455 bytes, dribbled (KEEPALIVE_TIMEOUT)"],
	["qos2Puback", "a QoS 2 PUBLISH answered with PUBACK (delivered at QoS 1, no close)"],
	["subackFailure", "a SUBACK with return code 0x8F (a refusal, no close)"],
	["closeOnSubscribe", "the connection closed on a SUBSCRIBE, 4 times (set aside: REJECTED_BY_BROKER)"],
	["closeOnPublish", "the connection closed on a QoS 1 PUBLISH, 4 times (set aside: onRejected)"],
];

describe("hostile broker inside the XS engine: no allocation beyond the fixed buffers", function () {
	this.timeout(60_000);
	let worker: XsWorker;

	before(async () => {
		worker = await startWorkloads(path.join(here, "xs-workloads.js"), "hostileReady");
	});
	after(async () => worker?.close());

	async function around(code: string): Promise<Figures> {
		const before = (await worker.evaluate("gc()")).meter;
		const during = (await worker.evaluate(code)).meter;
		const after = (await worker.evaluate("gc()")).meter;
		return {
			allocated: during.currentHeapCount - before.currentHeapCount,
			live: after.currentHeapCount - before.currentHeapCount,
			bytes: after.allocate - before.allocate,
		};
	}

	/** n cycles of workload `name` (every cycle checks its own outcome inside XS and throws on a miss). */
	async function cycles(name: string, n: number): Promise<Figures> {
		const run = await around(`hostileWorkloads[${JSON.stringify(name)}](${n})`);
		const empty = await around(`hostileWorkloads.empty(${n})`);
		return { allocated: run.allocated - empty.allocated, live: run.live - empty.live, bytes: run.bytes };
	}

	it("the measurement sees retained objects (control: 1,000 kept objects grow the live heap)", async () => {
		const kept = await cycles("keepObjects", 1000);
		await worker.evaluate("hostileWorkloads.dropObjects()");
		assert.ok(kept.live >= 1000, `live growth ${kept.live}`);
	});

	for (const [name, label] of CASES) {
		it(`${label}: live heap after gc() the same after 10 and after 1,000 cycles`, async () => {
			await worker.evaluate(`hostileWorkloads[${JSON.stringify(name)}](10)`); // warm-up: lazily made state
			const ten = await cycles(name, 10);
			const thousand = await cycles(name, 1000);
			console.log(`      XS ${name}: ${ten.allocated / 10} slots allocated per cycle (collected); live growth ${ten.live} after 10, ${thousand.live} after 1,000; allocate +${thousand.bytes} bytes`);
			assert.equal(thousand.live, ten.live, "live slots after 1,000 cycles vs after 10");
			assert.equal(thousand.live, 0, "live slots left behind");
			assert.equal(thousand.bytes, 0, "bytes taken from the system");
		});
	}

	it("a 268,435,455-byte announcement costs what a 4,110-byte one does, and nothing near its length (control: a buffer of that length)", async () => {
		const huge = await cycles("rlMax", 100);
		const exact = await cycles("rlExact", 100);
		assert.equal(huge.allocated, exact.allocated, "slots allocated: announced 268,435,455 vs 4,110 bytes");
		assert.equal(huge.bytes, 0);
		assert.equal(exact.bytes, 0);
		// The control, last (it leaves the chunk heap extended): allocating the announced length shows.
		const buffer = await around("hostileWorkloads.bigBuffer(268435455)");
		console.log(`      XS: 100 cycles announcing 268,435,455 bytes: ${huge.allocated} slots, +${huge.bytes} bytes; announcing 4,110: ${exact.allocated} slots, +${exact.bytes} bytes; control new Uint8Array(268435455): +${buffer.bytes} bytes`);
		assert.ok(buffer.bytes >= 268_435_455, `the control grew allocate by ${buffer.bytes} bytes`);
	});
});
