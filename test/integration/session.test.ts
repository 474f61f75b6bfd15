// Sessions against a real broker: a persistent session collecting QoS 1/2 messages while we are
// away, and unacknowledged QoS 1/2 messages re-sent after a reconnect through a failing path.

import * as assert from "node:assert/strict";
import { codeOf, Ours, Peer, suiteBroker, track, unique } from "../lib/peers.js";
import { Proxy } from "../lib/proxy.js";
import { sleep } from "../lib/signal.js";

let ids = 0;
function clientId(name: string): string {
	return `it-${name}-${process.pid}-${++ids}`;
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("integration: sessions", function () {
	this.timeout(10_000);
	const broker = suiteBroker();

	it("persistent session: QoS 1 and 2 messages published while we were away arrive on reconnect (session present)", async () => {
		const id = clientId("persist");
		const topic = unique("persist");
		const first = new Ours({ port: broker.port, clientId: id, cleanSession: false });
		await first.connected();
		assert.equal(first.connects[0]!.sessionPresent, false);
		assert.equal(await first.subscribe(`${topic}/#`, 2), 2);
		first.client.close();

		const peer = await Peer.connect(broker.port);
		const sent: string[] = [];
		for (let i = 0; i < 4; i++) {
			for (const qos of [1, 2] as const) {
				const payload = `q${qos}-${i}`;
				await peer.publish(`${topic}/q${qos}`, payload, { qos }); // acknowledged by the broker
				sent.push(payload);
			}
		}

		// A new Client with the same id: no subscribe call, so the session's messages come to onMessage.
		const second = new Ours({ port: broker.port, clientId: id, cleanSession: false });
		await second.connected();
		assert.equal(second.connects[0]!.sessionPresent, true, "the broker kept the session");
		await second.until(() => second.messages.length >= sent.length, 3000, `${sent.length} stored messages`);
		await sleep(100); // a window for what must not come: a duplicate
		const q2 = second.on(`${topic}/q2`).map((m) => text(m.payload));
		const q1 = second.on(`${topic}/q1`).map((m) => text(m.payload));
		assert.deepEqual(q2, ["q2-0", "q2-1", "q2-2", "q2-3"], "QoS 2: each exactly once, in order");
		assert.deepEqual([...new Set(q1)], ["q1-0", "q1-1", "q1-2", "q1-3"], "QoS 1: each at least once, in order");
		assert.ok(second.messages.every((m) => m.via === "onMessage"));
		assert.deepEqual(second.on(`${topic}/q2`).map((m) => m.qos), [2, 2, 2, 2], "QoS kept");

		// Leave no session behind on the broker.
		second.client.close();
		const clean = new Ours({ port: broker.port, clientId: id, cleanSession: true });
		await clean.connected();
	});

	it("QoS 1/2 publishes that never reached the broker are re-sent after the reconnect; each arrives, pending returns to 0", async () => {
		const topic = unique("resend");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 2);
		const proxy = track(await Proxy.start(broker.port));
		const ours = new Ours({ port: proxy.port, keepAlive: 0 });
		await ours.connected();

		proxy.stall(); // both directions: the PUBLISHes stay in the proxy
		const id1 = ours.client.publish(`${topic}/q1`, "one", 1);
		const id2 = ours.client.publish(`${topic}/q2`, "two", 2);
		assert.ok(id1 > 0 && id2 > 0);
		assert.equal(ours.client.pending, 2);
		await sleep(50); // a window for what must not come: a PUBLISH through the stalled path
		assert.equal(peer.messages.length, 0, "nothing got through the stalled path");
		proxy.cut();
		proxy.resume();

		await ours.connected(2, 3000);
		assert.equal(codeOf(ours.closes[0]!.error), "CONNECTION_LOST");
		await ours.until(() => ours.delivered.includes(id1) && ours.delivered.includes(id2), 3000, "onDelivered for both after the re-send");
		await peer.until(() => peer.on(`${topic}/q1`).length >= 1 && peer.on(`${topic}/q2`).length >= 1, 3000, "both at MQTT.js");
		await sleep(100); // a window for what must not come: a second copy of the QoS 2 message
		assert.ok(peer.on(`${topic}/q1`).length >= 1, "QoS 1 at least once");
		assert.equal(peer.on(`${topic}/q2`).length, 1, "QoS 2 exactly once");
		assert.equal(peer.on(`${topic}/q2`)[0]!.payload.toString(), "two");
		assert.equal(ours.client.pending, 0);
	});

	it("lost acknowledgements (broker → client stalled): the persistent session completes them after the reconnect; QoS 2 arrives once", async () => {
		const topic = unique("lost-acks");
		const id = clientId("lost-acks");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 2);
		const proxy = track(await Proxy.start(broker.port));
		const ours = new Ours({ port: proxy.port, keepAlive: 0, clientId: id, cleanSession: false });
		await ours.connected();
		// aedes reports "session present" only for a session that holds a subscription.
		await ours.subscribe(`${topic}/inbox`, 1);

		proxy.stall("down"); // the broker gets our PUBLISHes; its PUBACK / PUBREC never reach us
		const id1 = ours.client.publish(`${topic}/q1`, "one", 1);
		const id2 = ours.client.publish(`${topic}/q2`, "two", 2);
		// The broker forwards QoS 1 now. QoS 2 it forwards on PUBLISH (aedes) or only on our PUBREL
		// (mosquitto), which cannot come before we see its PUBREC.
		await peer.until(() => peer.on(`${topic}/q1`).length === 1, 3000, "the broker forwarded the QoS 1 message");
		await sleep(100); // a window for what must not come: an acknowledgement through the stalled path
		assert.equal(ours.client.pending, 2, "no acknowledgement reached us");
		assert.equal(ours.delivered.length, 0);
		proxy.cut();
		proxy.resume();

		await ours.connected(2, 3000);
		assert.equal(ours.connects[1]!.sessionPresent, true);
		await ours.until(() => ours.delivered.includes(id1) && ours.delivered.includes(id2), 3000, "onDelivered for both");
		await sleep(150); // a window for what must not come: a second copy of the QoS 2 message
		assert.equal(peer.on(`${topic}/q2`).length, 1, "QoS 2: the DUP re-send was recognised, delivered exactly once");
		const q1 = peer.on(`${topic}/q1`).length;
		assert.ok(q1 >= 1 && q1 <= 2, `QoS 1: at least once (${q1})`);
		assert.equal(ours.client.pending, 0);

		ours.client.close();
		const clean = new Ours({ port: broker.port, clientId: id, cleanSession: true });
		await clean.connected();
	});
});
