// The connection's life against a real broker: the last will (abrupt cut vs graceful close),
// keepalive detecting a stalled path, refused connections with backoff, and a broker restart.

import * as assert from "node:assert/strict";
import { freePort, startBroker } from "../lib/broker.js";
import { codeOf, now, Ours, Peer, suiteBroker, track, unique } from "../lib/peers.js";
import { Proxy } from "../lib/proxy.js";
import { sleep } from "../lib/signal.js";

describe("integration: the connection's life", function () {
	this.timeout(10_000);
	const broker = suiteBroker();

	describe("last will", () => {
		it("is published to another subscriber when our connection is cut abruptly", async () => {
			const willTopic = unique("will-cut");
			const peer = await Peer.connect(broker.port);
			await peer.subscribe(willTopic, 1);
			const proxy = track(await Proxy.start(broker.port));
			const ours = new Ours({ port: proxy.port, reconnect: false, will: { topic: willTopic, payload: "gone ✗", qos: 1, retain: false } });
			await ours.connected();

			proxy.cut();
			await peer.until(() => peer.on(willTopic).length === 1, 3000, "the will at MQTT.js");
			const will = peer.on(willTopic)[0]!;
			assert.equal(will.payload.toString(), "gone ✗");
			assert.equal(will.qos, 1);
			await ours.until(() => ours.closes.length === 1, 3000, "onClose");
			assert.equal(ours.closes[0]!.error?.code, "CONNECTION_LOST");
			assert.equal(ours.connects.length, 1, "reconnect: false stays down");
		});

		it("is NOT published after a graceful close(): DISCONNECT went out first", async () => {
			const willTopic = unique("will-close");
			const peer = await Peer.connect(broker.port);
			await peer.subscribe(willTopic, 1);
			const proxy = track(await Proxy.start(broker.port));
			const ours = new Ours({ port: proxy.port, will: { topic: willTopic, payload: "gone", qos: 1, retain: false } });
			await ours.connected();

			ours.client.close();
			assert.equal(ours.closes.length, 1);
			assert.equal(ours.closes[0]!.error, undefined, "onClose(undefined) after close()");
			await proxy.signal.until(() => proxy.active === 0, 3000, "the connection to end on both sides");
			// The broker has seen the end of the connection: a will would be on its way by now.
			await peer.publish(willTopic, "marker", { qos: 1 });
			await peer.until(() => peer.on(willTopic).length >= 1, 3000, "the marker");
			await sleep(150); // a window for what must not come: the will
			assert.deepEqual(peer.on(willTopic).map((m) => m.payload.toString()), ["marker"], "no will");
			assert.equal(proxy.accepted, 1, "close() does not reconnect");
			assert.throws(() => ours.client.publish(willTopic, "late", 0), /CLIENT_CLOSED/);
		});
	});

	describe("keepalive", () => {
		it("detects a stalled broker (KEEPALIVE_TIMEOUT via onClose within 1.5 × keepAlive) and reconnects once the path resumes", async () => {
			const proxy = track(await Proxy.start(broker.port));
			const ours = new Ours({
				port: proxy.port, keepAlive: 1, connectTimeout: 400,
				reconnect: { initialDelay: 50, maxDelay: 100, jitter: 0 },
			});
			await ours.connected();
			const lastReceived = ours.connects[0]!.at; // the CONNACK
			proxy.stall();

			await ours.until(() => ours.closes.length >= 1, 3000, "onClose");
			const closed = ours.closes[0]!;
			assert.equal(closed.error?.code, "KEEPALIVE_TIMEOUT");
			const silent = closed.at - lastReceived;
			assert.ok(silent >= 1450 && silent <= 1500 + 400, `declared dead after ${Math.round(silent)} ms of silence (1.5 × 1000 ms)`);
			assert.ok(ours.client.stats.pings >= 1, "a PINGREQ went out at 1 × keepAlive and got no answer");
			assert.equal(proxy.accepted, 1, "the stall closed nothing: keepalive had to find it");

			// Still stalled: the next attempt gets no CONNACK.
			await ours.until(() => ours.errors.some((e) => codeOf(e.error) === "CONNECT_TIMEOUT"), 3000, "CONNECT_TIMEOUT while stalled");
			proxy.resume();
			await ours.connected(2, 3000);
			assert.equal(ours.connects[1]!.sessionPresent, false);
			assert.ok(proxy.accepted >= 3, `attempts went through the proxy (${proxy.accepted})`);
		});

		it("keeps an idle connection alive with PINGREQ/PINGRESP", async () => {
			const ours = new Ours({ port: broker.port, keepAlive: 1 });
			await ours.connected();
			await ours.until(() => ours.client.stats.pings >= 2, 3500, "two PINGREQs", 20);
			assert.equal(ours.closes.length, 0, "PINGRESPs kept it alive");
			assert.equal(ours.client.connected, true);
		});
	});

	describe("refused connections", () => {
		it("a closed port: onError CONNECTION_REFUSED, attempts back off (gaps grow), then it connects when a broker listens there", async () => {
			const port = await freePort();
			const ours = new Ours({ port, reconnect: { initialDelay: 40, factor: 2, maxDelay: 400, jitter: 0 } });
			await ours.until(() => ours.errors.length >= 5, 5000, "five refused attempts");
			assert.deepEqual(ours.errors.map((e) => codeOf(e.error)), Array(ours.errors.length).fill("CONNECTION_REFUSED"));
			const at = ours.errors.map((e) => e.at);
			const gaps = at.slice(1).map((t, i) => t - at[i]!);
			// Delays 40, 80, 160, 320 ms (jitter 0), plus the time a refusal takes on loopback.
			const expected = [40, 80, 160, 320];
			for (let i = 0; i < 4; i++)
				assert.ok(gaps[i]! >= expected[i]! - 2 && gaps[i]! < expected[i]! + 150, `gap ${i} is ${Math.round(gaps[i]!)} ms, expected about ${expected[i]}`);
			for (let i = 1; i < 4; i++) assert.ok(gaps[i]! > gaps[i - 1]!, `gaps grow: ${gaps.map(Math.round)}`);
			assert.equal(ours.closes.length, 0, "never connected, so no onClose");

			const late = track(await startBroker({ port }));
			await ours.connected(1, 3000);
			assert.equal(ours.connects[0]!.sessionPresent, false);
			await late.stop();
		});

		it("after close(), a client that never connected stops retrying", async () => {
			const port = await freePort();
			const ours = new Ours({ port, reconnect: { initialDelay: 30, factor: 1, maxDelay: 30, jitter: 0 } });
			await ours.until(() => ours.errors.length >= 2, 3000, "two refused attempts");
			ours.client.close();
			const count = ours.errors.length;
			const closedAt = now();
			await sleep(150); // a window for what must not come: another attempt
			assert.equal(ours.errors.length, count, `no attempt in the ${Math.round(now() - closedAt)} ms after close()`);
		});
	});

	describe("broker restart", () => {
		it("a restarted broker without our session: we reconnect, resubscribe by ourselves, and messages flow again", async () => {
			const own = track(await startBroker());
			const topic = unique("restart");
			const ours = new Ours({ port: own.port, reconnect: { initialDelay: 50, maxDelay: 200, jitter: 0 } });
			await ours.connected();
			assert.equal(await ours.subscribe(topic, 1, ours.handler("sub")), 1);

			await own.restart();
			await ours.connected(2, 5000);
			assert.equal(ours.closes[0]!.error?.code, "CONNECTION_LOST");
			assert.equal(ours.connects[1]!.sessionPresent, false, "the broker lost the session");
			await ours.until(() => ours.subacks.filter((s) => s.filter === topic).length === 2, 3000, "the automatic re-SUBSCRIBE");

			const peer = await Peer.connect(own.port);
			await peer.publish(topic, "after restart", { qos: 1 });
			await ours.until(() => ours.on(topic, "sub").length === 1, 3000, "the message after the restart");
		});

		it("mosquitto with persistence: a persistent session survives a restart (session present, no re-SUBSCRIBE)", async function () {
			if (broker.kind !== "mosquitto") return this.skip(); // aedes here keeps sessions in memory only
			const own = track(await startBroker({ persistence: true }));
			const topic = unique("restart-persistent");
			const ours = new Ours({ port: own.port, clientId: `it-restart-${process.pid}`, cleanSession: false });
			await ours.connected();
			await ours.subscribe(topic, 1, ours.handler("sub"));

			await own.restart(); // SIGTERM: mosquitto saves its database
			await ours.connected(2, 5000);
			assert.equal(ours.connects[1]!.sessionPresent, true);
			const peer = await Peer.connect(own.port);
			await peer.publish(topic, "kept", { qos: 1 });
			await ours.until(() => ours.on(topic, "sub").length === 1, 3000, "the message through the restored subscription");
			assert.equal(ours.subacks.filter((s) => s.filter === topic).length, 1, "no re-SUBSCRIBE with a session present");
		});
	});
});
