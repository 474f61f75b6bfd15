// Brokers that refuse in ways MQTT 3.1.1 does not spell out, over TCP: a QoS 2 PUBLISH answered with
// PUBACK, a SUBACK code above 0x80, and the connection closed instead of a refusal (on a SUBSCRIBE, on
// a PUBLISH). Each once looped forever (reconnect, send the same again); each now ends.

import * as assert from "node:assert/strict";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { PUBLISH, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { Packet, PublishPacket, SubscribePacket } from "../../modules/mqtt/packet.js";
import { closeAll, Ours } from "../lib/peers.js";
import { connack, ScriptedBroker, serve } from "../lib/scripted-broker.js";
import type { Quirks } from "../lib/scripted-broker.js";
import { CrashGuard, hooks } from "./harness.js";

const RECONNECT = { initialDelay: 100, factor: 2, maxDelay: 400, jitter: 0 } as const;
const EARLY = 2;

let serial = 0;
const brokers: ScriptedBroker[] = [];

/** A broker that serves every connection with `quirks` (session present after the first), and our client on it. */
async function setup(quirks: Quirks, cleanSession = false): Promise<{ broker: ScriptedBroker; ours: Ours }> {
	const broker = await ScriptedBroker.start((index) => [connack(!cleanSession && index > 0), serve(quirks)]);
	brokers.push(broker);
	const ours = new Ours({ port: broker.port, clientId: `refusals-${process.pid}-${++serial}`, cleanSession, keepAlive: 10, reconnect: RECONNECT });
	await ours.connected(1);
	return { broker, ours };
}

const isSubscribe = (p: Packet, filter: string): boolean => p.type === SUBSCRIBE && (p as SubscribePacket).subscriptions[0]!.filter === filter;
const isPublish = (p: Packet, topic: string): boolean => p.type === PUBLISH && (p as PublishPacket).topic === topic;

/** Gaps between connections, from the broker's accepts (ms). */
function gaps(broker: ScriptedBroker): number[] {
	const c = broker.connections;
	const out: number[] = [];
	for (let i = 1; i < c.length; i++) out.push(Math.round(c[i]!.acceptedAt - c[i - 1]!.closedAt));
	return out;
}

describe("hostile broker: refusals real brokers make", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);
	afterEach(async () => {
		await closeAll();
		await Promise.all(brokers.splice(0).map((b) => b.close()));
	});

	it("QoS 2 answered with PUBACK (RabbitMQ): each message delivered once at QoS 1, no reconnect, publish() keeps accepting", async () => {
		const { broker, ours } = await setup({ qos2AsPuback: true });
		const ids: number[] = [];
		// Two rounds of 24 (the pool holds 32): the second is accepted only if the first completed.
		for (let round = 0; round < 2; round++) {
			for (let i = 0; i < 24; i++) ids.push(ours.client.publish(`q2/${i}`, `m${i}`, 2));
			await ours.until(() => ours.delivered.length >= ids.length, 3000, `${ids.length} onDelivered`);
		}
		assert.ok(ids.every((id) => id > 0), `publish() returned ${ids.filter((id) => id <= 0).length} refusals`);
		// Before: UNKNOWN_PACKET_ID, reconnect, DUP re-send, forever; none ever delivered, publish() -1 once the pool filled.
		assert.deepEqual(ours.delivered, ids, "each delivered once, in order");
		assert.deepEqual(new Set(ours.deliveredQos), new Set([1]), "reported at QoS 1");
		assert.equal(ours.client.stats.qos2AckedAsQos1, 48);
		assert.equal(ours.client.pending, 0);
		assert.equal(broker.connections.length, 1, "one connection");
		assert.equal(broker.connections[0]!.publishes().length, 48, "each sent once");
		assert.deepEqual(ours.closes, []);
		assert.deepEqual(guard.caught, []);
	});

	it("a SUBACK code above 0x80 (ejabberd's 0x8F to a 3.1.1 client) is a refusal reported with its code; the connection stays", async () => {
		const { broker, ours } = await setup({ subackCode: (filter, qos) => filter.startsWith("bad/") ? 0x8F : qos });
		assert.equal(await ours.subscribe("bad/#", 1), 0x8F);
		assert.equal(await ours.subscribe("good/#", 1), 1);
		assert.equal(ours.client.session.subscriptions.entries.find((s) => s.filter === "bad/#")?.granted, 0x8F);
		assert.equal(broker.connections.length, 1, "no reconnect (before: INVALID_SUBACK_CODE and a loop)");
		assert.deepEqual(ours.errors, []);
		assert.deepEqual(ours.closes, []);
	});

	it("closed on a SUBSCRIBE (RabbitMQ, a filter the user may not read): set aside after 3 closes while alone, reported, the others made; the retries back off", async () => {
		const { broker, ours } = await setup({ closeOn: (p) => isSubscribe(p, "forbidden/#") }, true);
		ours.client.subscribe("allowed/a", 1);
		ours.client.subscribe("forbidden/#", 1);
		ours.client.subscribe("allowed/b", 1);
		await ours.until(() => ours.subacks.length >= 5, 5000, "the SUBACKs and the refusal");
		// Clean session: each connection makes allowed/a again (alone, while probing), then tries forbidden/# alone.
		const refused = ours.subacks.filter((s) => s.filter === "forbidden/#");
		assert.deepEqual(refused, [{ filter: "forbidden/#", code: 0x80 }]);
		const errors = ours.errors.map((e) => e.error as MqttError);
		assert.deepEqual(errors.map((e) => [e.code, e.topic]), [[ErrorCode.REJECTED_BY_BROKER, "forbidden/#"]]);
		await ours.until(() => ours.subacks.some((s) => s.filter === "allowed/b"), 3000, "allowed/b granted");
		assert.deepEqual(ours.client.session.subscriptions.entries.map((s) => s.filter), ["allowed/a", "allowed/b"], "forbidden/# forgotten");
		// The first connection (all three at once) and three with forbidden/# alone: four closes, then a fifth connection that stays.
		assert.equal(broker.connections.length, 5, `connections: ${broker.connections.length}`);
		const sentAlone = broker.connections.slice(1, 4).map((c) => c.ofType(SUBSCRIBE).map((s) => (s.packet as SubscribePacket).subscriptions[0]!.filter));
		assert.deepEqual(sentAlone, [["allowed/a", "forbidden/#"], ["allowed/a", "forbidden/#"], ["allowed/a", "forbidden/#"]], "one at a time until set aside");
		const last = broker.connections[4]!;
		assert.equal(last.closed, false, "the fifth connection stays up");
		assert.ok(!last.ofType(SUBSCRIBE).some((s) => isSubscribe(s.packet, "forbidden/#")), "never sent again");
		// Each connection acknowledged allowed/a, so it proved itself and the backoff started over: 100 ms gaps.
		for (const g of gaps(broker)) assert.ok(g >= RECONNECT.initialDelay - EARLY, `gap ${g} ms`);
		assert.deepEqual(guard.caught, []);
	});

	it("closed on a QoS 1 PUBLISH (RabbitMQ, a topic the user may not write): set aside after 3 closes, onRejected gets its copy, the messages behind it are delivered once; the retries back off", async () => {
		const { broker, ours } = await setup({ closeOn: (p) => isPublish(p, "forbidden/x") });
		const before = ours.client.publish("allowed/1", "one", 1);
		await ours.until(() => ours.delivered.length === 1, 2000, "the first delivered");
		const poison = ours.client.publish("forbidden/x", "poison", 1, true);
		const behind = [ours.client.publish("allowed/2", "two", 1), ours.client.publish("allowed/3", "three", 2), ours.client.publish("allowed/4", "four", 1)];
		await ours.until(() => ours.delivered.length === 4, 8000, "the messages behind it delivered");
		assert.deepEqual([...ours.delivered].sort((a, b) => a - b), [before, ...behind], "each delivered once (the QoS 2 one completes last)");
		assert.deepEqual(ours.rejected, [{ packetId: poison, topic: "forbidden/x", payload: "poison", qos: 1, code: ErrorCode.REJECTED_BY_BROKER }]);
		const errors = ours.errors.map((e) => e.error as MqttError);
		assert.deepEqual(errors.map((e) => [e.code, e.topic, e.packetId]), [[ErrorCode.REJECTED_BY_BROKER, "forbidden/x", poison]]);
		assert.equal(ours.client.pending, 0);
		assert.equal(ours.client.stats.rejected, 1);
		// The first connection (the poison and what followed), three with the poison alone, then the one that delivers.
		assert.equal(broker.connections.length, 5);
		for (let i = 1; i < 4; i++) {
			const sent = broker.connections[i]!.publishes().map((p) => [p.topic, p.packetId, p.dup]);
			assert.deepEqual(sent, [["forbidden/x", poison, true]], `connection ${i}: the poison alone`);
		}
		// No acknowledgement on those connections: the backoff grew, 100, 200, 400 (the cap), 400 ms.
		const g = gaps(broker);
		const expected = [100, 200, 400, 400];
		for (let i = 0; i < expected.length; i++) assert.ok(g[i]! >= expected[i]! - EARLY && g[i]! < expected[i]! + 500, `gap ${i}: ${g[i]} ms, backoff ${expected[i]} ms`);
		assert.deepEqual(guard.caught, []);
	});
});
