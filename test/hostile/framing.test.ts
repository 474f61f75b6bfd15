// A broker that sends malformed frames after CONNACK: each ends the connection from the client's side
// with a typed error, then a reconnect after the backoff re-sends every unacknowledged message with DUP.

import * as assert from "node:assert/strict";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import { PUBACK } from "../../modules/mqtt/packet.js";
import { send } from "../lib/scripted-broker.js";
import { assertRecovered, CrashGuard, hooks, run } from "./harness.js";
import type { Outcome, Scenario } from "./harness.js";
import {
	BAD_UTF8_TOPIC, FIFTH_BYTE, garbage, HUGE_TOPIC_TEXT, PUBREL_FLAGS, QOS3, RL_MAX_PAYLOAD, RL_MAX_PUBLISH, RL_MAX_SUBACK,
	writePubackFlags1,
} from "./scripts.js";

describe("hostile broker: malformed frames", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);

	async function check(s: Scenario): Promise<Outcome> {
		const o = await run(s);
		assertRecovered(s, o, guard);
		return o;
	}

	describe("a remaining length of 268,435,455", () => {
		it("on a PUBLISH: reported as oversize from what fits and drained; the silence after it ends by KEEPALIVE_TIMEOUT", async () => {
			// The header announces the largest length; a topic, 4 KB of payload (4 × the receive buffer), then nothing.
			const s: Scenario = { phase: "connected", keepAlive: 1, code: ErrorCode.KEEPALIVE_TIMEOUT, hostile: [send(RL_MAX_PUBLISH)] };
			const o = await check(s);
			assert.equal(o.ours.messages.length, 1, "onOversize once");
			const m = o.ours.messages[0]!;
			assert.equal(m.via, "oversize");
			assert.equal(m.topic, HUGE_TOPIC_TEXT);
			assert.equal(m.length, RL_MAX_PAYLOAD, "the whole announced payload length, as a number");
			assert.equal(o.ours.client.stats.oversizeReceived, 1);
			// Declared dead 1.5 × keepAlive after the last complete packet (the oversize report), not sooner.
			assert.ok(o.errorAt - m.at >= 1450, `KEEPALIVE_TIMEOUT ${Math.round(o.errorAt - m.at)} ms after the oversize report`);
		});

		it("on a SUBACK (only PUBLISH may exceed the receive buffer): PACKET_TOO_LARGE at once", async () => {
			await check({ phase: "connected", code: ErrorCode.PACKET_TOO_LARGE, hostile: [send(RL_MAX_SUBACK)] });
		});
	});

	it("a fifth remaining-length byte: MALFORMED_REMAINING_LENGTH", async () => {
		await check({ phase: "connected", code: ErrorCode.MALFORMED_REMAINING_LENGTH, hostile: [send(FIFTH_BYTE)] });
	});

	it("a PUBLISH with QoS bits 11: INVALID_QOS", async () => {
		await check({ phase: "connected", code: ErrorCode.INVALID_QOS, hostile: [send(QOS3)] });
	});

	describe("wrong reserved flags", () => {
		it("PUBACK with flags 0001 (for a message really in flight, which stays unacknowledged): INVALID_FLAGS", async () => {
			// The identifier of the first QoS 1 message: a lenient client would take it as acknowledged.
			const puback = (id: number): Uint8Array => {
				const b = new Uint8Array(4);
				writePubackFlags1(b, id);
				return b;
			};
			await check({ phase: "connected", code: ErrorCode.INVALID_FLAGS, hostile: [send((c) => puback(c.publishes()[0]!.packetId!))] });
		});

		it("PUBREL with flags 0000: INVALID_FLAGS", async () => {
			await check({ phase: "connected", code: ErrorCode.INVALID_FLAGS, hostile: [send(PUBREL_FLAGS)] });
		});
	});

	it("malformed UTF-8 in a PUBLISH topic (0xC3 followed by a non-continuation byte): MALFORMED_UTF8, nothing delivered", async () => {
		const o = await check({ phase: "connected", code: ErrorCode.MALFORMED_UTF8, hostile: [send(BAD_UTF8_TOPIC)] });
		assert.equal(o.ours.messages.length, 0, "no message handler ran");
		assert.equal(o.hostile.ofType(PUBACK).length, 0, "no PUBACK for it");
	});

	it("garbage after CONNACK (64 seeded random bytes): a typed protocol error (LENGTH_MISMATCH for this seed)", async () => {
		// The seed's bytes start 0x70 0x9A 0x0E: a PUBCOMP announcing 1,818 bytes where 2 are the rule.
		// Other seeds fail with other codes (INVALID_FLAGS, INVALID_QOS, ...); the XS test replays 32 of them.
		const bytes = garbage(1)[0]!;
		assert.deepEqual([...bytes.subarray(0, 3)], [0x70, 0x9A, 0x0E], "the seed still makes the garbage this test describes");
		await check({ phase: "connected", code: ErrorCode.LENGTH_MISMATCH, hostile: [send(bytes)] });
	});
});
