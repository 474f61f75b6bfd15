// A broker that dribbles a packet one byte per 100 ms: a valid packet is received whole without a
// spurious timeout while keepalive allows; an endless packet announced huge ends by KEEPALIVE_TIMEOUT.

import * as assert from "node:assert/strict";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import { PINGREQ, PUBACK, PUBLISH } from "../../modules/mqtt/packet.js";
import type { PublishPacket } from "../../modules/mqtt/packet.js";
import { closeAll, Ours } from "../lib/peers.js";
import { connack, dribble, dribbleForever, packetBytes, ScriptedBroker, serve } from "../lib/scripted-broker.js";
import { sleep } from "../lib/signal.js";
import { assertRecovered, CrashGuard, hooks, run } from "./harness.js";
import type { Scenario } from "./harness.js";
import { ENDLESS_FILLER, ENDLESS_HEADER, VALID_PUBLISH } from "./scripts.js";

describe("hostile broker: a packet dribbled one byte per 100 ms", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);
	let broker: ScriptedBroker | undefined;
	afterEach(async () => {
		await closeAll();
		await broker?.close();
		broker = undefined;
	});

	it("a valid PUBLISH taking 2.2 s (longer than keepAlive 2 s, shorter than 1.5 ×) is received whole and acknowledged; no timeout", async () => {
		const expected: PublishPacket = { type: PUBLISH, topic: "d/slow", payload: new TextEncoder().encode("dribbled ok"), qos: 1, retain: false, dup: false, packetId: 0x0102 };
		assert.deepEqual([...VALID_PUBLISH], [...packetBytes(expected)], "the script is that packet, as our encoder writes it");
		broker = await ScriptedBroker.start(() => [connack(false), dribble(VALID_PUBLISH, 100), serve()]);
		const ours = new Ours({ port: broker.port, clientId: `dribble-${process.pid}`, keepAlive: 2 });
		await ours.connected(1);
		const connackAt = ours.connects[0]!.at;

		await ours.until(() => ours.messages.length >= 1, 4000, "the dribbled message");
		const m = ours.messages[0]!;
		assert.deepEqual({ topic: m.topic, payload: Buffer.from(m.payload).toString(), qos: m.qos }, { topic: "d/slow", payload: "dribbled ok", qos: 1 });
		const took = m.at - connackAt;
		assert.ok(took >= 2100, `the packet took ${Math.round(took)} ms to arrive`);
		const c = broker.connections[0]!;
		await broker.signal.until(() => c.ofType(PUBACK).length === 1, 1000, "PUBACK");
		assert.equal((c.ofType(PUBACK)[0]!.packet as { packetId: number }).packetId, 0x0102);
		assert.ok(c.ofType(PINGREQ).length >= 1, "keepalive ran (PINGREQ) while the packet was arriving");

		// Past 1.5 × keepAlive after CONNACK: still up, since a packet completed in between.
		await sleep(Math.max(0, connackAt + 3300 - performance.now()));
		assert.deepEqual(ours.closes, [], "no onClose");
		assert.deepEqual(ours.errors, [], "no onError");
		assert.equal(c.closed, false);
		assert.equal(broker.connections.length, 1);
		assert.ok(ours.client.connected);
		assert.deepEqual(broker.problems, []);
		assert.deepEqual(guard.caught, []);
	});

	it("an endless PUBLISH announced at 268,435,455 bytes: KEEPALIVE_TIMEOUT 1.5 × keepAlive after the last complete packet, while bytes still flow", async () => {
		const s: Scenario = { phase: "connected", keepAlive: 1, code: ErrorCode.KEEPALIVE_TIMEOUT, hostile: [dribbleForever(ENDLESS_HEADER, 100, ENDLESS_FILLER)], timeout: 5000 };
		const o = await run(s);
		assertRecovered(s, o, guard);
		const m = o.ours.messages[0]!;
		assert.equal(m.via, "oversize", "reported as oversize once its topic arrived");
		assert.equal(m.topic, "a/b");
		const silent = o.errorAt - m.at;
		assert.ok(silent >= 1450 && silent < 2500, `declared dead ${Math.round(silent)} ms after the oversize report`);
		assert.ok(o.hostile.bytesSent >= ENDLESS_HEADER.length + 10, `the broker was still dribbling (${o.hostile.bytesSent} bytes sent)`);
	});
});
