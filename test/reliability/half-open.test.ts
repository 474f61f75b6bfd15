// A half-open link: mosquitto frozen with SIGSTOP (sockets open, nothing answers). Our client must see
// it by its keepalive bound, reconnect once SIGCONT comes, and lose none of the QoS 1/2 it accepted.

import * as assert from "node:assert/strict";
import { findMosquitto, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { closeAll, codeOf, Ours, Peer, unique } from "../lib/peers.js";
import { sleep } from "../lib/signal.js";

const KEEPALIVE = 2;
/** 1.5 × keepAlive: the client's bound for silence. */
const BOUND = 1.5 * KEEPALIVE * 1000;
/** Timer lateness allowed on top of the bound. */
const SLACK = 500;
/** The broker stays frozen this long after our client gave up on the connection (a connect attempt times out meanwhile). */
const FROZEN_AFTER = 2500;
const CONNECT_TIMEOUT = 1500;

describe("reliability: a half-open link (the broker frozen with SIGSTOP)", function () {
	this.timeout(30_000);
	let broker: Broker | undefined;
	let frozen: number | undefined;

	before(function () {
		if (!findMosquitto()) this.skip(); // SIGSTOP needs the broker in its own process
	});

	after(async () => {
		if (frozen !== undefined) process.kill(frozen, "SIGCONT");
		await closeAll();
		await broker?.stop();
	});

	it(`KEEPALIVE_TIMEOUT within 1.5 × keepAlive (+${SLACK} ms); after SIGCONT the session resumes and every QoS 1/2 message accepted during the freeze arrives (QoS 2 once)`, async () => {
		broker = await startBroker({ kind: "mosquitto" });
		const pid = broker.pid!;
		const topic = unique("frozen");
		const peer = await Peer.connect(broker.port);
		await peer.subscribe(`${topic}/#`, 2);
		const ours = new Ours({
			port: broker.port, clientId: `frozen-${process.pid}`, cleanSession: false, keepAlive: KEEPALIVE,
			connectTimeout: CONNECT_TIMEOUT, reconnect: { initialDelay: 200, factor: 2, maxDelay: 1000, jitter: 0 },
		});
		await ours.connected();
		await ours.subscribe(`${topic}/tick`, 0, ours.handler("tick"));

		// Something arrives just before the freeze: the silence is counted from there.
		await peer.publish(`${topic}/tick`, "last word", { qos: 0 });
		await ours.until(() => ours.on(`${topic}/tick`).length === 1, 3000, "the last message before the freeze");
		const lastReceived = ours.on(`${topic}/tick`)[0]!.at;
		process.kill(pid, "SIGSTOP");
		frozen = pid;
		const frozeAt = performance.now();

		const sent: Array<{ qos: 1 | 2; payload: string; id: number }> = [];
		const publish = (qos: 1 | 2, payload: string): void => {
			const id = ours.client.publish(`${topic}/q${qos}`, payload, qos);
			assert.ok(id > 0, `${payload} accepted`);
			sent.push({ qos, payload, id });
		};
		// Connected, but nobody answers: these go out on a dead link.
		for (let i = 0; i < 3; i++) {
			publish(1, `on the dead link, QoS 1 #${i}`);
			publish(2, `on the dead link, QoS 2 #${i}`);
		}

		await ours.until(() => ours.closes.length >= 1, BOUND + SLACK + 1000, "the client to give up on the frozen link");
		const close = ours.closes[0]!;
		assert.equal(codeOf(close.error), "KEEPALIVE_TIMEOUT");
		const sinceFreeze = close.at - frozeAt;
		const sinceLast = close.at - lastReceived;
		assert.ok(sinceFreeze <= BOUND + SLACK, `detected ${Math.round(sinceFreeze)} ms after the freeze (bound ${BOUND} + ${SLACK} ms)`);
		assert.ok(sinceLast >= BOUND - 5, `not before 1.5 × keepAlive of silence (${Math.round(sinceLast)} ms since the last message)`);

		// Offline now (the broker still frozen; a reconnect attempt hangs in its accept queue): these wait in the pool.
		for (let i = 0; i < 3; i++) {
			publish(1, `while offline, QoS 1 #${i}`);
			publish(2, `while offline, QoS 2 #${i}`);
		}
		assert.equal(ours.client.pending, sent.length);
		await sleep(FROZEN_AFTER); // time passes on purpose: the broker stays frozen
		const timedOut = ours.errors.filter((e) => codeOf(e.error as Error) === "CONNECT_TIMEOUT").length;
		assert.equal(peer.messages.filter((m) => m.topic !== `${topic}/tick`).length, 0, "nothing got through the frozen broker");
		process.kill(pid, "SIGCONT");
		frozen = undefined;
		const resumedAt = performance.now();

		await ours.until(() => ours.client.pending === 0 && ours.client.connected, 10_000, "every accepted message acknowledged after SIGCONT", 50);
		const q1 = sent.filter((s) => s.qos === 1);
		const q2 = sent.filter((s) => s.qos === 2);
		await peer.until(() => q1.every((s) => peer.on(`${topic}/q1`).some((m) => m.payload.toString() === s.payload))
			&& q2.every((s) => peer.on(`${topic}/q2`).some((m) => m.payload.toString() === s.payload)), 5000, "every message at MQTT.js");
		await sleep(300); // a duplicate would have arrived by now
		const back = ours.connects.filter((c) => c.at > resumedAt);
		console.log(`      KEEPALIVE_TIMEOUT ${Math.round(sinceFreeze)} ms after SIGSTOP (${Math.round(sinceLast)} ms after the last message; bound ${BOUND} ms); ${timedOut} CONNECT_TIMEOUT while frozen; reconnected ${Math.round(back[0]!.at - resumedAt)} ms after SIGCONT`);

		assert.ok(back.length >= 1 && back.every((c) => c.sessionPresent), "reconnected after SIGCONT with the session present");
		assert.ok(timedOut >= 1, "a connect attempt to the frozen broker timed out (the connect timeout works on a half-open accept)");
		for (const s of q1) assert.ok(peer.on(`${topic}/q1`).some((m) => m.payload.toString() === s.payload), `${s.payload} at least once`);
		for (const s of q2) assert.equal(peer.on(`${topic}/q2`).filter((m) => m.payload.toString() === s.payload).length, 1, `${s.payload} exactly once`);
		assert.deepEqual([...ours.delivered].sort((a, b) => a - b), sent.map((s) => s.id).sort((a, b) => a - b), "onDelivered once for each");
		assert.equal(ours.client.pending, 0);
	});
});
