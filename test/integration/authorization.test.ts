// Subscriptions a real broker refuses: SUBACK 0x80 through onSubscribe (mosquitto's dynamic-security
// plugin, or aedes's authorizeSubscribe), and what mosquitto's acl_file does instead.

import * as assert from "node:assert/strict";
import { findMosquitto, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { closeAll, Ours, Peer, unique } from "../lib/peers.js";
import { sleep } from "../lib/signal.js";

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("integration: a subscription the broker refuses", function () {
	this.timeout(10_000);
	let broker: Broker;

	before(async () => {
		// mosquitto: a dynamic-security role denies subscribePattern secret/# to anonymous clients.
		broker = await startBroker({ refuseSubscriptions: ["secret/#"] });
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await broker?.stop();
	});

	it("onSubscribe reports 0x80 for the refused filter and the granted QoS for another; the connection stays up", async () => {
		const id = unique("refused").replace(/\//g, "-");
		const secret = `secret/${id}`;
		const open = `open/${id}`;
		const ours = new Ours({ port: broker.port });
		await ours.connected();
		assert.equal(await ours.subscribe(secret, 1, ours.handler("secret")), 0x80, "refused: 0x80 (128)");
		assert.equal(await ours.subscribe(open, 2, ours.handler("open")), 2, "granted QoS 2");
		assert.equal(ours.client.connected, true);
		assert.equal(ours.closes.length, 0);

		const peer = await Peer.connect(broker.port);
		await peer.publish(secret, "hidden", { qos: 1 });
		await peer.publish(open, "visible", { qos: 1 });
		await ours.until(() => ours.on(open).length === 1, 3000, "the message on the granted filter");
		await sleep(100); // a window for what must not come: the refused filter's message
		assert.equal(ours.on(secret).length, 0, "nothing arrives for the refused subscription");
		assert.equal(ours.client.stats.messagesReceived, 1);
	});
});

describe("integration: mosquitto acl_file (read denied)", function () {
	this.timeout(10_000);
	let broker: Broker | undefined;

	before(async () => {
		if (process.env.MQTT_TEST_BROKER === "aedes" || !findMosquitto()) return;
		// Anonymous clients may write to secret/# but not read it; everything else is open.
		broker = await startBroker({ kind: "mosquitto", acl: ["topic readwrite open/#", "topic write secret/#"] });
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await broker?.stop();
	});

	it("mosquitto 2.0: SUBACK grants the requested QoS (not 0x80) for a topic it may not read, and withholds its messages", async function () {
		if (!broker) return this.skip(); // an acl_file is mosquitto's; aedes has none
		const id = unique("acl").replace(/\//g, "-");
		const secret = `secret/${id}`;
		const open = `open/${id}`;
		const ours = new Ours({ port: broker.port });
		await ours.connected();
		// mosquitto checks acl_file read access when it delivers, not when it subscribes.
		assert.equal(await ours.subscribe(secret, 1, ours.handler("secret")), 1, "mosquitto grants the subscription");
		assert.equal(await ours.subscribe(open, 1, ours.handler("open")), 1);

		const peer = await Peer.connect(broker.port);
		await peer.publish(secret, "hidden", { qos: 1 });
		await peer.publish(open, "visible", { qos: 1 });
		await ours.until(() => ours.on(open).length === 1, 3000, "the message on the readable topic");
		await sleep(100); // a window for what must not come: the unreadable topic's message
		assert.deepEqual(ours.messages.map((m) => text(m.payload)), ["visible"], "the unreadable topic's message was withheld");
	});
});
