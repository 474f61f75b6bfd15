// Messages through a real broker between our client and another real client (MQTT.js 5, and
// mosquitto_pub/mosquitto_sub when installed): QoS 0/1/2 both ways, retained, topic matching. The
// QoS round trips and retained messages run twice: MQTT 3.1.1, then MQTT 5.0 on both sides (not
// against aedes, which speaks 3.1.1 only).

import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { findTool } from "../lib/broker.js";
import { Ours, Peer, sameBytes, suiteBroker, unique } from "../lib/peers.js";
import { Signal, sleep } from "../lib/signal.js";

const encoder = new TextEncoder();

/** `length` bytes that cover every byte value (0x00 and 0xFF included). */
function bytes(length: number, seed: number): Uint8Array {
	const b = new Uint8Array(length);
	for (let i = 0; i < length; i++) b[i] = (i * 7 + seed) & 0xFF;
	return b;
}

describe("integration: delivery through a real broker", function () {
	this.timeout(10_000);
	const broker = suiteBroker();

	for (const version of [4, 5] as const) {
		const name = version === 5 ? "MQTT 5.0" : "MQTT 3.1.1";
		const skipOnAedes = function (this: Mocha.Context): void {
			if (version === 5 && broker.kind === "aedes") this.skip();
		};
		describe(`QoS round trips (${name})`, () => {
			before(skipOnAedes);

			it("QoS 0, 1 and 2 from our client reach MQTT.js with equal bytes; onDelivered names the QoS 1/2 packet ids", async () => {
				const topic = unique("down");
				const peer = await Peer.connect(broker.port, { protocolVersion: version });
				assert.equal(await peer.subscribe(`${topic}/#`, 2), 2);
				const ours = new Ours({ port: broker.port, protocolVersion: version });
				await ours.connected();

				const payloads = [bytes(256, 0), encoder.encode("héllo ✓ 𝄞 \u0000 end"), bytes(700, 3)];
				const ids = [0, 1, 2].map((q) => ours.client.publish(`${topic}/q${q}`, payloads[q]!, q as 0 | 1 | 2));
				assert.equal(ids[0], 0, "QoS 0 publish returns 0");
				assert.ok(ids[1]! > 0 && ids[2]! > 0 && ids[1] !== ids[2], `QoS 1/2 publish return distinct packet ids, got ${ids}`);

				await ours.until(() => ours.delivered.length >= 2, 3000, "onDelivered for QoS 1 and 2");
				assert.deepEqual([...ours.delivered].sort((a, b) => a - b), [ids[1]!, ids[2]!].sort((a, b) => a - b));
				await peer.until(() => peer.messages.length >= 3, 3000, "three messages at MQTT.js");
				for (let q = 0; q < 3; q++) {
					const got = peer.on(`${topic}/q${q}`);
					assert.equal(got.length, 1, `exactly one QoS ${q} message`);
					assert.equal(got[0]!.qos, q, `QoS ${q} kept end to end`);
					assert.equal(got[0]!.retain, false);
					assert.ok(sameBytes(got[0]!.payload, payloads[q]!), `QoS ${q} payload bytes equal`);
				}
				assert.equal(ours.client.pending, 0);
				assert.equal(ours.client.stats.messagesSent, 3);
			});

			it("QoS 0, 1 and 2 from MQTT.js reach our handler with equal bytes and QoS, acknowledged", async () => {
				const topic = unique("up");
				const ours = new Ours({ port: broker.port, protocolVersion: version });
				await ours.connected();
				assert.equal(await ours.subscribe(`${topic}/#`, 2, ours.handler("all")), 2);
				const peer = await Peer.connect(broker.port, { protocolVersion: version });

				const payloads = [bytes(300, 1), encoder.encode("Grüße 👋"), bytes(900, 5)];
				// Each publishAsync resolves after the broker completed the exchange (PUBACK / PUBCOMP).
				for (let q = 0; q < 3; q++) await peer.publish(`${topic}/q${q}`, payloads[q]!, { qos: q as 0 | 1 | 2 });

				await ours.until(() => ours.messages.length >= 3, 3000, "three messages at our client");
				for (let q = 0; q < 3; q++) {
					const got = ours.on(`${topic}/q${q}`, "all");
					assert.equal(got.length, 1, `exactly one QoS ${q} message`);
					assert.equal(got[0]!.qos, q);
					assert.equal(got[0]!.dup, false);
					assert.ok(sameBytes(got[0]!.payload, payloads[q]!), `QoS ${q} payload bytes equal`);
				}
				assert.equal(ours.client.stats.messagesReceived, 3);
				assert.equal(ours.closes.length, 0);
			});

			it("many QoS 1 and 2 messages from our client, with a small pool: -1, onWritable, retry; all arrive once and in order", async () => {
				const topic = unique("burst");
				const peer = await Peer.connect(broker.port, { protocolVersion: version });
				await peer.subscribe(`${topic}/#`, 2);
				const ours = new Ours({ port: broker.port, protocolVersion: version, maxMessages: 6, maxInflight: 3, queueBytes: 512 });
				await ours.connected();

				const total = 80;
				let next = 0;
				let refused = 0;
				const pump = (): void => {
					while (next < total) {
						const qos = next % 2 === 0 ? 1 : 2;
						const id = ours.client.publish(`${topic}/q${qos}`, `m${next}`, qos);
						if (id < 0) {
							refused++;
							return; // onWritable calls pump again
						}
						assert.ok(id > 0);
						next++;
					}
				};
				ours.whenWritable = pump;
				pump();
				await ours.until(() => next === total, 8000, "every publish accepted");
				assert.ok(refused > 0, "the small pool refused some publishes (so onWritable was exercised)");
				await ours.until(() => ours.delivered.length === total, 8000, `onDelivered × ${total}`);
				await peer.until(() => peer.messages.length >= total, 8000, `${total} messages at MQTT.js`);
				await sleep(50); // a window for what must not come: a duplicate
				// MQTT orders messages per topic and QoS; QoS 1 and QoS 2 went to two topics here.
				for (const qos of [1, 2]) {
					const got = peer.on(`${topic}/q${qos}`).map((m) => m.payload.toString());
					const sent = Array.from({ length: total }, (_, i) => `m${i}`).filter((_, i) => (i % 2 === 0 ? 1 : 2) === qos);
					assert.deepEqual(got, sent, `QoS ${qos}: each once, in publish order`);
				}
				assert.equal(ours.client.pending, 0);
			});

			// 3.1.1 only: with 5.0 the broker drops what exceeds our Maximum Packet Size (mqtt5.test.ts).
			if (version === 4) it("a PUBLISH larger than our receive buffer is reported by onOversize, acknowledged, and the connection goes on", async () => {
				const topic = unique("big");
				const ours = new Ours({ port: broker.port, protocolVersion: version, rxBufferSize: 256 });
				await ours.connected();
				await ours.subscribe(`${topic}/#`, 1, ours.handler("sub"));
				const peer = await Peer.connect(broker.port, { protocolVersion: version });

				await peer.publish(`${topic}/large`, bytes(5000, 9), { qos: 1 });
				await peer.publish(`${topic}/small`, "after", { qos: 1 });
				await ours.until(() => ours.on(`${topic}/small`).length === 1, 3000, "the small message after the large one");
				const big = ours.on(`${topic}/large`);
				assert.equal(big.length, 1);
				assert.equal(big[0]!.via, "oversize", "the large message went to onOversize, not the handler");
				assert.equal(big[0]!.length, 5000, "onOversize reports the whole payload length");
				assert.ok(sameBytes(big[0]!.payload, bytes(5000, 9).subarray(0, big[0]!.payload.length)), "the first payload bytes are kept");
				assert.equal(ours.client.stats.oversizeReceived, 1);
				assert.equal(ours.closes.length, 0, "the connection stayed up");
			});
		});

		describe(`retained messages (${name})`, () => {
			before(skipOnAedes);

			it("our retained message reaches a later MQTT.js subscriber with the retain flag; an empty retained payload clears it", async () => {
				const topic = unique("retained-ours");
				const ours = new Ours({ port: broker.port, protocolVersion: version });
				await ours.connected();
				const id = ours.client.publish(topic, "state-1", 1, true);
				await ours.until(() => ours.delivered.includes(id), 3000, "PUBACK for the retained message");

				const late = await Peer.connect(broker.port, { protocolVersion: version });
				await late.subscribe(topic, 1);
				await late.until(() => late.messages.length >= 1, 3000, "the retained message");
				assert.equal(late.messages[0]!.retain, true, "sent with the retain flag");
				assert.equal(late.messages[0]!.payload.toString(), "state-1");

				const clear = ours.client.publish(topic, "", 1, true);
				await ours.until(() => ours.delivered.includes(clear), 3000, "PUBACK for the empty retained message");
				const later = await Peer.connect(broker.port, { protocolVersion: version });
				await later.subscribe(topic, 1);
				// A retained message would come before anything published after the SUBACK.
				ours.client.publish(topic, "marker", 1, false);
				await later.until(() => later.messages.length >= 1, 3000, "the marker");
				await sleep(100); // a window for what must not come: a retained message
				assert.deepEqual(later.messages.map((m) => [m.payload.toString(), m.retain]), [["marker", false]], "no retained message after clearing");
			});

			it("a retained message from MQTT.js reaches our later subscription with retain set; cleared, it is gone", async () => {
				const topic = unique("retained-peer");
				const peer = await Peer.connect(broker.port, { protocolVersion: version });
				await peer.publish(topic, bytes(40, 2), { qos: 2, retain: true });

				const ours = new Ours({ port: broker.port, protocolVersion: version });
				await ours.connected();
				await ours.subscribe(topic, 2, ours.handler("first"));
				await ours.until(() => ours.messages.length >= 1, 3000, "the retained message");
				assert.equal(ours.messages[0]!.retain, true);
				assert.ok(sameBytes(ours.messages[0]!.payload, bytes(40, 2)));

				await peer.publish(topic, "", { qos: 1, retain: true });
				await ours.unsubscribe(topic);
				const before = ours.client.stats.messagesReceived;
				await ours.subscribe(topic, 2, ours.handler("second"));
				await peer.publish(topic, "marker", { qos: 1 });
				await ours.until(() => ours.on(topic, "second").length >= 1, 3000, "the marker");
				await sleep(100); // a window for what must not come: the cleared retained message
				assert.deepEqual(ours.on(topic, "second").map((m) => [new TextDecoder().decode(m.payload), m.retain]), [["marker", false]]);
				assert.equal(ours.client.stats.messagesReceived - before, 1, "nothing else was received after resubscribing");
			});
		});
	}

	describe("topic matching", () => {
		it("overlapping subscriptions (a/+ and a/#): every matching handler gets the message, a non-matching one does not", async () => {
			const t = unique("overlap");
			const ours = new Ours({ port: broker.port });
			await ours.connected();
			await ours.subscribe(`${t}/+`, 1, ours.handler("plus"));
			await ours.subscribe(`${t}/#`, 1, ours.handler("hash"));
			await ours.subscribe(`${t}/other`, 1, ours.handler("other"));
			const peer = await Peer.connect(broker.port);
			await peer.publish(`${t}/x`, "both", { qos: 1 });
			// Only a/# matches the marker; when it is in, every copy of the first message is too.
			await peer.publish(`${t}/x/end`, "marker", { qos: 1 });
			await ours.until(() => ours.on(`${t}/x/end`, "hash").length === 1, 3000, "the marker");
			await sleep(50); // a window for any further copy

			const copies = ours.client.stats.messagesReceived - 1;
			// mosquitto 2 and aedes both send one PUBLISH per client for overlapping subscriptions
			// (MQTT 3.1.1 §3.3.5 allows either one copy or one per subscription).
			assert.equal(copies, 1, `${broker.kind} sent ${copies} copies for two overlapping subscriptions`);
			assert.equal(ours.on(`${t}/x`, "plus").length, copies, "a/+ handler got it");
			assert.equal(ours.on(`${t}/x`, "hash").length, copies, "a/# handler got it");
			assert.equal(ours.on(`${t}/x`, "other").length, 0, "a/other handler did not");
			assert.equal(ours.on(`${t}/x/end`, "plus").length, 0, "a/+ does not match a/x/end");
			assert.equal(ours.on(`${t}/x`, "onMessage").length, 0, "taken by handlers, so not by onMessage");
		});

		it("a $-topic is not matched by # or +/#, only by a filter that starts with $", async () => {
			const id = unique("dollar").replace(/\//g, "-");
			const dollarTopic = `$app/${id}/x`;
			const plainTopic = `plain/${id}/x`;
			const ours = new Ours({ port: broker.port });
			await ours.connected();
			await ours.subscribe("#", 1, ours.handler("hash"));
			await ours.subscribe("+/#", 1, ours.handler("plus"));
			await ours.subscribe(`$app/${id}/#`, 1, ours.handler("dollar"));
			const peer = await Peer.connect(broker.port);
			await peer.publish(dollarTopic, "dollar", { qos: 1 });
			await peer.publish(plainTopic, "plain", { qos: 1 });
			await ours.until(() => ours.on(plainTopic, "hash").length === 1 && ours.on(dollarTopic, "dollar").length === 1, 3000, "both messages");
			await sleep(50); // a window for what must not come: the $-topic through #

			assert.equal(ours.on(dollarTopic).length, 1, "the $-topic arrived once, to $app/# only");
			assert.equal(ours.on(dollarTopic, "hash").length, 0, "# did not take the $-topic");
			assert.equal(ours.on(dollarTopic, "plus").length, 0, "+/# did not take the $-topic");
			assert.equal(ours.messages.filter((m) => m.topic.startsWith("$") && m.via !== "dollar").length, 0, "no $-topic reached # or +/#");
			assert.equal(ours.on(plainTopic, "plus").length, 1, "+/# takes the plain topic");
		});

		it("after onUnsubscribe, messages to that filter no longer arrive", async () => {
			const t = unique("unsub");
			const ours = new Ours({ port: broker.port });
			await ours.connected();
			await ours.subscribe(`${t}/data`, 1, ours.handler("data"));
			await ours.subscribe(`${t}/marker`, 1, ours.handler("marker"));
			const peer = await Peer.connect(broker.port);
			await peer.publish(`${t}/data`, "one", { qos: 1 });
			await ours.until(() => ours.on(`${t}/data`).length === 1, 3000, "the first message");

			await ours.unsubscribe(`${t}/data`);
			await peer.publish(`${t}/data`, "two", { qos: 1 });
			await peer.publish(`${t}/marker`, "marker", { qos: 1 });
			await ours.until(() => ours.on(`${t}/marker`).length === 1, 3000, "the marker");
			await sleep(100); // a window for what must not come: a message on the unsubscribed filter
			assert.deepEqual(ours.on(`${t}/data`).map((m) => new TextDecoder().decode(m.payload)), ["one"], "nothing after unsubscribing");
			assert.equal(ours.client.stats.messagesReceived, 2, "the broker sent no PUBLISH for the unsubscribed filter");
		});
	});

	describe("mosquitto_pub and mosquitto_sub as the other client", () => {
		const sub = findTool("mosquitto_sub");
		const pub = findTool("mosquitto_pub");
		const stdbuf = findTool("stdbuf");

		it("mosquitto_sub receives QoS 0, 1 and 2 from our client, byte for byte", async function () {
			if (!sub || !stdbuf) return this.skip();
			const topic = unique("tool-sub");
			// mosquitto_sub buffers its output in a pipe; stdbuf makes it line-buffered.
			const child = spawn(stdbuf!, ["-oL", sub, "-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv311", "-q", "2", "-t", `${topic}/#`,
				"-C", "3", "-W", "8", "-d", "-F", "MSG %t %q %x"], { stdio: ["ignore", "pipe", "pipe"] });
			let out = "";
			const signal = new Signal();
			child.stdout.setEncoding("utf8");
			child.stdout.on("data", (text: string) => {
				out += text;
				signal.notify();
			});
			let exited = false;
			child.once("exit", () => {
				exited = true;
				signal.notify();
			});
			try {
				await signal.until(() => /Subscribed \(mid/.test(out), 3000, "mosquitto_sub's SUBACK");
				const ours = new Ours({ port: broker.port });
				await ours.connected();
				const payloads = [bytes(20, 1), bytes(33, 2), bytes(64, 3)];
				for (let q = 0; q < 3; q++) ours.client.publish(`${topic}/q${q}`, payloads[q]!, q as 0 | 1 | 2);
				await signal.until(() => exited, 5000, "mosquitto_sub to take three messages and exit");
				const lines = out.split("\n").filter((l) => l.startsWith("MSG ")).sort();
				const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
				assert.deepEqual(lines, [0, 1, 2].map((q) => `MSG ${topic}/q${q} ${q} ${hex(payloads[q]!)}`));
			}
			finally {
				if (!exited) child.kill("SIGKILL");
			}
		});

		it("mosquitto_pub's QoS 2 message reaches our handler once", async function () {
			if (!pub) return this.skip();
			const topic = unique("tool-pub");
			const ours = new Ours({ port: broker.port });
			await ours.connected();
			await ours.subscribe(topic, 2, ours.handler("sub"));
			const code = await new Promise<number | null>((resolve) => {
				const child = spawn(pub, ["-h", "127.0.0.1", "-p", String(broker.port), "-V", "mqttv311", "-q", "2", "-t", topic, "-m", "from mosquitto_pub ✓"],
					{ stdio: "ignore", timeout: 5000 });
				child.once("exit", (c) => resolve(c));
			});
			assert.equal(code, 0, "mosquitto_pub completed its QoS 2 exchange");
			await ours.until(() => ours.on(topic).length === 1, 3000, "the message");
			await sleep(50); // a window for what must not come: a second copy
			const got = ours.on(topic);
			assert.equal(got.length, 1);
			assert.equal(got[0]!.qos, 2);
			assert.equal(new TextDecoder().decode(got[0]!.payload), "from mosquitto_pub ✓");
		});
	});
});

describe("integration: bursts against the broker's in-flight window", function () {
	this.timeout(10_000);
	const broker = suiteBroker({ maxInflight: 8 });

	/** MQTT.js publishes `total` numbered messages at once at `qos`; ours, subscribed, gets each once, in order. */
	async function burst(qos: 1 | 2, total: number): Promise<Ours> {
		const topic = unique(`inbound-qos${qos}`);
		const ours = new Ours({ port: broker.port });
		await ours.connected();
		await ours.subscribe(topic, qos, ours.handler("sub"));
		const peer = await Peer.connect(broker.port);
		await Promise.all(Array.from({ length: total }, (_, i) => peer.publish(topic, `n${i}`, { qos })));
		await ours.until(() => ours.messages.length >= total, 5000, `${total} messages`);
		await sleep(50); // a window for what must not come: a duplicate, a close
		assert.deepEqual(ours.messages.map((m) => new TextDecoder().decode(m.payload)), Array.from({ length: total }, (_, i) => `n${i}`));
		assert.equal(ours.closes.length, 0);
		return ours;
	}

	it("60 QoS 1 messages from MQTT.js reach our client in order (mosquitto: through an 8-message window)", async () => {
		await burst(1, 60);
	});

	it("8 QoS 2 messages at once (the window) reach our client exactly once, in order", async () => {
		// No more than the window: mosquitto 2.0.11 does not deliver outbound QoS 2 messages that
		// queued behind a full window (MQTT.js as subscriber loses them the same way), and aedes has
		// no window at all.
		const ours = await burst(2, 8);
		assert.equal(ours.client.stats.duplicatesIgnored, 0);
	});

	it("more inbound QoS 2 in flight than maxInboundQos2: onClose INBOUND_QOS2_FULL, then a reconnect", async () => {
		const topic = unique("inbound-full");
		const ours = new Ours({ port: broker.port, maxInboundQos2: 4 });
		await ours.connected();
		await ours.subscribe(topic, 2, ours.handler("sub"));
		const peer = await Peer.connect(broker.port);
		// The broker sends 8 PUBLISHes before any PUBREL can come back: the fifth finds the table full.
		for (let i = 0; i < 8; i++) peer.publish(topic, `n${i}`, { qos: 2 }).catch(() => undefined);
		await ours.until(() => ours.closes.length >= 1, 3000, "onClose");
		assert.equal(ours.closes[0]!.error?.code, "INBOUND_QOS2_FULL");
		assert.ok(ours.messages.length >= 4, `the first four were delivered (got ${ours.messages.length})`);
		await ours.connected(2);
	});
});
