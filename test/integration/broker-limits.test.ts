// mosquitto with its limits set: max_packet_size (it drops the connection of a client that sends a
// larger packet) and max_inflight_messages (for a 3.1.1 client it answers QoS 2 over its quota with
// PUBREC and drops the message: MQTT 3.1.1 gives the client no way to see it).

import * as assert from "node:assert/strict";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import { findMosquitto, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { reportSkip } from "../lib/output.js";
import { closeAll, Ours, Peer, unique } from "../lib/peers.js";

const MAX_PACKET = 2048;
const RECONNECT = { initialDelay: 100, maxDelay: 400, factor: 2, jitter: 0 };

describe("integration: mosquitto with its limits set", function () {
	this.timeout(20_000);
	let broker: Broker;

	before(async function () {
		if (!findMosquitto() || process.env.MQTT_TEST_BROKER === "aedes") {
			reportSkip("mosquitto with its limits set", "these limits are mosquitto's, and mosquitto is not installed (or MQTT_TEST_BROKER=aedes)");
			this.skip();
		}
		broker = await startBroker({ kind: "mosquitto", maxPacketSize: MAX_PACKET, maxInflight: 2 });
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await broker?.stop();
	});

	it(`maxPacketSize ${MAX_PACKET}: a larger publish throws PACKET_TOO_LARGE at once, nothing is sent, the connection and the messages around it are fine`, async () => {
		const topic = unique("limits/size");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 1);
		const ours = new Ours({ port: broker.port, maxPacketSize: MAX_PACKET, rxBufferSize: 4096, txBufferSize: 4096, reconnect: RECONNECT });
		await ours.connected();
		const big = new Uint8Array(MAX_PACKET).fill(0x62);
		assert.equal(ours.client.publish(`${topic}/before`, "b", 1) > 0, true);
		for (const qos of [0, 1] as const) {
			assert.throws(() => ours.client.publish(`${topic}/big`, big, qos), (e: MqttError) => e.code === ErrorCode.PACKET_TOO_LARGE && /maximum packet size of 2048/.test(e.message));
		}
		const fits = big.subarray(0, MAX_PACKET - 2 - 2 - `${topic}/fits`.length - 2 - 1); // fixed header 3 bytes at this size
		assert.ok(ours.client.publish(`${topic}/fits`, fits, 1) > 0);
		ours.client.publish(`${topic}/after`, "a", 0);
		await peer.until(() => peer.messages.length >= 3, 3000, "before, fits and after");
		assert.deepEqual(peer.messages.map((m) => m.topic.slice(topic.length + 1)), ["before", "fits", "after"]);
		assert.equal(ours.closes.length, 0, "never dropped by the broker");
		assert.equal(ours.connects.length, 1);
	});

	it("without maxPacketSize, a QoS 1 message over the broker's limit is set aside after 3 drops (REJECTED_BY_BROKER) and the messages behind it go", async () => {
		const topic = unique("limits/poison");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 1);
		const ours = new Ours({ port: broker.port, clientId: unique("limits-poison").replace(/\//g, "-"), cleanSession: false, rxBufferSize: 4096, txBufferSize: 4096, reconnect: RECONNECT });
		await ours.connected();
		const big = new Uint8Array(3000).fill(0x62);
		const poison = ours.client.publish(`${topic}/big`, big, 1);
		const behind = [ours.client.publish(`${topic}/one`, "1", 1), ours.client.publish(`${topic}/two`, "2", 1)];
		await ours.until(() => ours.delivered.length >= 2, 10_000, "the messages behind the big one");
		assert.deepEqual(ours.delivered, behind);
		assert.deepEqual(ours.rejected.map((r) => [r.packetId, r.topic, r.code]), [[poison, `${topic}/big`, ErrorCode.REJECTED_BY_BROKER]]);
		await peer.until(() => peer.messages.length >= 2, 3000, "one and two at the peer");
		assert.deepEqual(peer.messages.map((m) => m.topic.slice(topic.length + 1)), ["one", "two"]);
		// Before: the big message re-sent after every reconnect, forever, and nothing behind it delivered.
		assert.ok(ours.connects.length <= 5, `${ours.connects.length} connections: the first, three with the big message alone, the one that delivers`);
		assert.equal(ours.client.pending, 0);
	});

	it("max_inflight_messages 2: with maxInflight 2 (no more than the broker's), 30 QoS 2 messages arrive, each exactly once", async () => {
		const topic = unique("limits/inflight");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 2);
		const ours = new Ours({ port: broker.port, maxInflight: 2 });
		await ours.connected();
		for (let i = 0; i < 30; i++) ours.client.publish(`${topic}/${i}`, String(i), 2);
		await ours.until(() => ours.delivered.length >= 30, 5000, "30 onDelivered");
		await peer.until(() => peer.messages.length >= 30, 5000, "30 messages at the peer");
		assert.deepEqual(peer.messages.map((m) => m.payload.toString()), Array.from({ length: 30 }, (_, i) => String(i)), "each once, in order");
		// With maxInflight 8 against this broker, mosquitto 2.0 acknowledges QoS 2 messages over its
		// quota with PUBREC and drops them (reason 0x97 in its log); 3.1.1 cannot tell the client. The
		// README says to keep maxInflight at or below max_inflight_messages. Measured here, not asserted:
		const lossy = new Ours({ port: broker.port, maxInflight: 8 });
		await lossy.connected();
		const before = peer.messages.length;
		for (let i = 0; i < 30; i++) lossy.client.publish(`${topic}/x${i}`, String(i), 2);
		await lossy.until(() => lossy.delivered.length >= 30, 5000, "30 onDelivered");
		await new Promise((resolve) => setTimeout(resolve, 300));
		console.log(`      with maxInflight 8 against max_inflight_messages 2: ${peer.messages.length - before} of 30 QoS 2 messages arrived, all 30 reported delivered`);
	});
});
