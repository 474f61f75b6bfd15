// The soak: numbered QoS 1 and QoS 2 messages both ways between our client (inside the XS engine) and
// MQTT.js through mosquitto and a fault proxy; nothing lost, QoS 2 never doubled, pool and heap back.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "mqtt";
import type { MqttClient } from "mqtt";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import type { Reply } from "../../hosts/xs/worker.js";
import { findMosquitto, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { faultSeed, planFaults, Proxy } from "../lib/proxy.js";
import { Signal, sleep, waitFor } from "../lib/signal.js";
import { checkReceipts, DIGITS, distinct, PAYLOAD_BYTES } from "./receipts.js";
import type { Receipts } from "./receipts.js";
import type { SoakConfig } from "./xs-soak.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/*
 * Sizes. `npm test` runs the short soak; `npm run soak` (SOAK=full) the full one. Messages are per
 * QoS and per direction: the full run moves 10,000 QoS 1 and 10,000 QoS 2 messages each way.
 * Faults are a seeded plan (FAULT_SEED replays it), triggered mostly by byte counts, sized so that the
 * whole plan strikes within about the first half of the traffic.
 */
const FULL = process.env.SOAK === "full";
const SIZE = FULL
	? { messages: 10_000, seconds: 180, cuts: 110, stalls: 30, halfCloses: 30, minCuts: 100, timeout: 600_000 }
	: { messages: 1_000, seconds: 15, cuts: 15, stalls: 4, halfCloses: 4, minCuts: 15, timeout: 45_000 };
/**
 * Both sides publish at a steady pace (messages per second each way, both QoS), so that the traffic
 * lasts about `seconds`: long enough for the plan's stalls and timed faults, and a backlog at the
 * broker builds only while our client is cut off.
 */
const RATE = Math.ceil((2 * SIZE.messages) / SIZE.seconds);
/** Numbers 0..WARM-1 go each way before the heap baseline (first-use state), without faults. */
const WARM = 20;
const FIRST = WARM;
const END = WARM + SIZE.messages;
/**
 * Bytes one message number costs in each direction through the proxy: a QoS 1 and a QoS 2 PUBLISH
 * (48 bytes each here) one way, PUBREL and the acknowledgements of the other way's pair (16 bytes).
 */
const BYTES_PER_NUMBER = 112;

const KEEPALIVE = 1;
/** MQTT.js's publishes outstanding at once: below mosquitto's max_inflight_messages (20) for its QoS 2. */
const PEER_WINDOW = 16;

/*
 * mosquitto settings (set in the test):
 * - max_queued_messages 0 (no limit): while our client is cut off, the broker queues everything for
 *   its persistent session; the default 1000 would drop messages beyond it, and that would be the
 *   broker's loss, not ours.
 * - max_inflight_messages 20 (the default, set explicitly): mosquitto closes a connection with more
 *   QoS 2 messages than that awaiting PUBREL. Our client keeps maxInflight 16 and MQTT.js a window of 16.
 *   What mosquitto 2.0.11 sends does not keep to it (fixed in 2.0.13): each PUBACK/PUBCOMP at the
 *   head of its in-flight list moves up to 20 more queued messages in flight, so after a backlog
 *   (our client was cut off) hundreds of QoS 2 messages can await PUBREL at once. Our client keeps
 *   its default maxInboundQos2 (32): past it, INBOUND_QOS2_FULL closes the connection, the broker
 *   re-sends, nothing is lost or doubled; those closes are allowed and counted.
 * - persistence off: the broker is never restarted here (broker-restart.test.ts does that).
 */
/** Why our client's connections may end in the soak: the faults, and mosquitto 2.0.11's overshoot (above). Anything else fails it. */
const EXPECTED_CLOSES = ["CONNECTION_LOST", "KEEPALIVE_TIMEOUT", "CONNECT_TIMEOUT", "INBOUND_QOS2_FULL"];

function text(buffer: ArrayBuffer | string): string {
	return typeof buffer === "string" ? buffer : Buffer.from(buffer).toString();
}

/** MQTT.js on a direct connection: subscribes to our client's messages, publishes numbered ones to it. */
class Peer {
	readonly up1: Uint8Array;
	readonly up2: Uint8Array;
	bad = 0;
	dupFlagged = 0;
	/** Down messages the broker acknowledged (PUBACK / PUBCOMP), and those refused. */
	acked = 0;
	failed = 0;
	closes = 0;
	readonly signal = new Signal();
	private nextDown = 0;
	private endDown = 0;
	private inFlight = 0;
	private rate = 0;
	private allowed = 0;
	private ticker: NodeJS.Timeout | undefined;
	private readonly payload = Buffer.alloc(PAYLOAD_BYTES, "d");

	private constructor(readonly client: MqttClient, readonly prefix: string, capacity: number) {
		this.up1 = new Uint8Array(capacity);
		this.up2 = new Uint8Array(capacity);
		client.on("message", (topic, payload, packet) => {
			if (packet.dup) this.dupFlagged++;
			const n = Number(payload.subarray(0, DIGITS).toString());
			const counts = topic.endsWith("/q1") ? this.up1 : topic.endsWith("/q2") ? this.up2 : undefined;
			if (!counts || !Number.isInteger(n) || n < 0 || n >= capacity || payload.length !== PAYLOAD_BYTES) this.bad++;
			else if (counts[n]! < 255) counts[n]!++;
			this.signal.notify();
		});
		client.on("close", () => this.closes++);
		client.on("error", () => {
			// a failure shows as a close and in the counts
		});
	}

	static open(port: number, prefix: string, capacity: number): Promise<Peer> {
		return new Promise((resolve, reject) => {
			const client = connect({
				host: "127.0.0.1", port, protocol: "mqtt", protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000,
				clientId: `soak-peer-${process.pid}`, clean: true, keepalive: 30,
			});
			client.once("error", reject);
			client.once("connect", () => {
				client.off("error", reject);
				resolve(new Peer(client, prefix, capacity));
			});
		});
	}

	/**
	 * Publishes down numbers `from` .. `to` - 1, QoS 1 and QoS 2 each, at most PEER_WINDOW outstanding,
	 * `rate` messages a second (0: as fast as the window allows).
	 */
	publish(from: number, to: number, rate: number): void {
		this.nextDown = from * 2;
		this.endDown = to * 2;
		this.rate = rate;
		this.allowed = this.nextDown;
		if (rate > 0) {
			let last = performance.now();
			this.ticker = setInterval(() => {
				const now = performance.now();
				this.allowed = Math.min(this.allowed + (rate * (now - last)) / 1000, this.nextDown + rate / 4);
				last = now;
				this.pump();
				if (this.nextDown >= this.endDown) clearInterval(this.ticker);
			}, 20);
		}
		this.pump();
	}

	get downDone(): boolean {
		return this.nextDown >= this.endDown && this.inFlight === 0;
	}

	private pump(): void {
		while (this.inFlight < PEER_WINDOW && this.nextDown < this.endDown && (this.rate === 0 || this.nextDown < this.allowed)) {
			const k = this.nextDown++;
			const n = k >> 1;
			const qos = (k & 1) === 0 ? 1 : 2;
			const payload = Buffer.from(this.payload);
			payload.write(String(n).padStart(DIGITS, "0"), 0, "latin1");
			this.inFlight++;
			this.client.publish(`${this.prefix}/down/q${qos}`, payload, { qos }, (error) => {
				this.inFlight--;
				if (error) this.failed++;
				else this.acked++;
				this.pump();
				this.signal.notify();
			});
		}
	}

	close(): Promise<void> {
		clearInterval(this.ticker);
		return new Promise((resolve) => this.client.end(true, () => resolve()));
	}
}

interface Progress {
	connected: boolean;
	next1: number;
	next2: number;
	delivered: number;
	pending: number;
	down1: number;
	down2: number;
	connects: number;
	subscribed: number;
}

interface Status {
	connected: boolean;
	connects: number;
	sessionPresent: number;
	closes: number;
	errors: number;
	codes: Record<string, number>;
	subscribed: number;
	up: { next1: number; next2: number; upTo: number; delivered: number };
	pending: number;
	pool: { count: number; live: number; inflight: number; bytes: number };
	bytesWaiting: number;
	down: { q1: Receipts; q2: Receipts; dupFlagged: number; bad: number };
	stats: { connects: number; messagesSent: number; messagesReceived: number; duplicatesIgnored: number; pings: number };
}

describe(`reliability: soak through faults, our client inside the XS engine (${FULL ? "full" : "short; SOAK=full for the full run"})`, function () {
	this.timeout(SIZE.timeout + 60_000);
	let broker: Broker | undefined;
	let proxy: Proxy | undefined;
	let peer: Peer | undefined;
	let device: XsDevice | undefined;
	let xsErrors = "";
	let xsOutput = "";

	before(function () {
		if (!findMosquitto()) this.skip(); // the soak is about mosquitto's behaviour with ours
	});

	after(async () => {
		await proxy?.close();
		try {
			await device?.evaluate("soak.close()");
		}
		catch {
			// the engine may be gone
		}
		await device?.kill();
		await peer?.close();
		await broker?.stop();
	});

	/**
	 * Every evaluation inside XS goes through here, counted: XS's global eval (what xsnap's evaluate
	 * command runs) keeps one heap slot live per evaluation, whatever the text (a bare engine shows it
	 * too: ten evaluate("0") leave ten slots; ten events through handleCommand leave none). The heap
	 * check subtracts exactly that, and verifies it.
	 */
	let evaluations = 0;
	function xs(code: string): Promise<Reply> {
		evaluations++;
		return device!.evaluate(code);
	}

	async function progress(): Promise<Progress> {
		const t = text((await xs("soak.progress()")).text).split(" ").map(Number);
		return { connected: t[0] === 1, next1: t[1]!, next2: t[2]!, delivered: t[3]!, pending: t[4]!, down1: t[5]!, down2: t[6]!, connects: t[7]!, subscribed: t[8]! };
	}

	async function status(from: number, to: number): Promise<Status> {
		return JSON.parse(text((await xs(`soak.status(${from}, ${to})`)).text)) as Status;
	}

	/** Live heap slots after a collection, and the evaluations made so far (this one included). */
	async function heap(): Promise<{ slots: number; evaluations: number }> {
		const slots = (await xs("gc()")).meter.currentHeapCount;
		return { slots, evaluations };
	}

	/** Polls `done` on the XS progress every 100 ms until it holds or `timeout` ms pass. */
	async function until(what: string, timeout: number, done: (p: Progress) => boolean, report?: (p: Progress) => void): Promise<Progress> {
		let lastReport = performance.now();
		let p: Progress | undefined;
		await waitFor(async () => {
			p = await progress();
			if (done(p)) return true;
			if (xsErrors) throw new Error(`the XS engine reported: ${xsErrors}`);
			if (report && performance.now() - lastReport > 15_000) {
				lastReport = performance.now();
				report(p);
			}
			return false;
		}, timeout, () => `${what}; XS: ${JSON.stringify(p)}`, 100);
		return p!;
	}

	it(`${SIZE.messages.toLocaleString("en")} QoS 1 + ${SIZE.messages.toLocaleString("en")} QoS 2 messages each way through ≥ ${SIZE.minCuts} cuts, stalls and half-closes: QoS 1 at least once, QoS 2 exactly once, pool empty, XS heap as before`, async () => {
		broker = await startBroker({ kind: "mosquitto", maxQueuedMessages: 0, maxInflight: 20 });
		const seed = faultSeed("soak");
		const faults = SIZE.cuts + SIZE.stalls + SIZE.halfCloses;
		// Byte triggers average maxBytes / 2: the plan strikes within about 40% of the traffic.
		const maxBytes = Math.floor((0.8 * BYTES_PER_NUMBER * SIZE.messages) / faults);
		const plan = planFaults({ seed, cuts: SIZE.cuts, stalls: SIZE.stalls, halfCloses: SIZE.halfCloses, maxBytes, timeShare: 0.25, maxDelay: 400, stallMs: [100, 2000] });
		proxy = await Proxy.start(broker.port, { plan });
		const prefix = `soak/${process.pid}-${Date.now().toString(36)}`;
		peer = await Peer.open(broker.port, prefix, END);
		await peer.client.subscribeAsync(`${prefix}/up/#`, { qos: 2 });

		device = new XsDevice({
			entry: path.join(here, "xs-soak.js"),
			config: { deviceId: "soak", topicPrefix: prefix, mqttHost: "127.0.0.1", mqttPort: proxy.port, mqttTls: false, telemetryInterval: 60_000 },
			onError: (t) => { xsErrors += t; },
			onTrace: (line) => { xsOutput += `${line}\n`; },
		});
		await device.start().catch((error: Error) => {
			throw new Error(`${error.message}: ${xsErrors} ${xsOutput}`);
		});
		const config: SoakConfig = {
			host: "127.0.0.1", port: proxy.port, clientId: `soak-xs-${process.pid}`, prefix, capacity: END,
			keepAlive: KEEPALIVE, maxInflight: 16, maxInboundQos2: 32, maxMessages: 64, queueBytes: 8192, seed,
		};
		const fresh = await heap();
		await xs(`soak.start(${JSON.stringify(config)})`);
		await until("connected and subscribed", 5000, (p) => p.connected && p.subscribed === 2);

		// Warm-up, no faults: numbers 0..WARM-1 each way, and one cut (the reconnect path's first use).
		await xs(`soak.go(0, ${WARM}, 0)`);
		peer.publish(0, WARM, 0);
		await until("the warm-up", 10_000, (p) => p.delivered === 2 * WARM && p.pending === 0 && p.down1 === WARM && p.down2 === WARM);
		proxy.cut("reset");
		await until("the reconnect after the warm-up cut", 5000, (p) => p.connected && p.connects === 2);
		await peer.signal.until(() => distinct(peer!.up1) === WARM && distinct(peer!.up2) === WARM && peer!.downDone, 5000, "the warm-up at MQTT.js");
		await status(0, END); // its first use makes property names: before the baseline
		await sleep(200); // time passes on purpose: a quiet moment, with nothing in flight, for the baseline
		const baseline = await heap();
		const again = await heap();

		// The soak.
		const started = performance.now();
		proxy.inject();
		await xs(`soak.go(${FIRST}, ${END}, ${RATE})`);
		peer.publish(FIRST, END, RATE);
		const total = END;
		await until(`${SIZE.messages} numbers each way`, SIZE.timeout,
			(p) => p.next2 === END && p.delivered === 2 * END && p.pending === 0 && p.down1 === total && p.down2 === total
				&& peer!.downDone && distinct(peer!.up1) === total && distinct(peer!.up2) === total,
			(p) => process.stdout.write(`      ... ${((performance.now() - started) / 1000).toFixed(0)} s: up ${p.next1}+${p.next2} published, ${p.delivered} delivered; down ${p.down1}+${p.down2} received; ${p.connects} connects; ${proxy!.struck.length}/${plan.length} faults\n`));
		const elapsed = performance.now() - started;
		const counts = proxy.counts();
		const remaining = proxy.remaining;
		proxy.calm();
		// Stragglers (a re-sent QoS 1, a late duplicate) have time to arrive and be counted.
		await until("connected and idle", 10_000, (p) => p.connected && p.pending === 0);
		await sleep(500);
		const s = await status(0, END);
		const up1 = checkReceipts(peer.up1, 0, END);
		const up2 = checkReceipts(peer.up2, 0, END);
		const after = await heap();
		// What the soak left live: the change, less one slot per evaluation since the baseline.
		const growth = after.slots - again.slots - (after.evaluations - again.evaluations);

		const n = SIZE.messages.toLocaleString("en");
		console.log(`      soak (${FULL ? "full" : "short"}, seed ${seed}): ${((elapsed) / 1000).toFixed(1)} s; ${proxy.accepted} connections through the proxy, ${s.connects} CONNACKs (${s.sessionPresent} with session present)`);
		console.log(`      device → broker: ${n} QoS 1 + ${n} QoS 2 numbered (+${WARM} + ${WARM} warm-up); MQTT.js got QoS 1 ${up1.total} (${up1.repeated} duplicates), QoS 2 ${up2.total} (${up2.repeated} duplicates); ${peer.dupFlagged} with DUP set`);
		console.log(`      broker → device: ${n} QoS 1 + ${n} QoS 2 numbered (+${WARM} + ${WARM} warm-up); ours got QoS 1 ${s.down.q1.total} (${s.down.q1.repeated} duplicates), QoS 2 ${s.down.q2.total} (${s.down.q2.repeated} duplicates); ${s.down.dupFlagged} with DUP set, ${s.stats.duplicatesIgnored} QoS 2 re-sends recognised`);
		console.log(`      bytes through the proxy: ${proxy.bytesUp.toLocaleString("en")} up, ${proxy.bytesDown.toLocaleString("en")} down; the plan struck by ${((proxy.struck.at(-1)?.at ?? 0) / 1000).toFixed(1)} s`);
		console.log(`      faults: ${counts.cuts} cuts, ${counts.stalls} stalls (${counts.stallsBoth} both ways, ${counts.stallsUp} up, ${counts.stallsDown} down), ${counts.halfCloses} half-closes (${counts.halfClosesUp} FIN to the broker, ${counts.halfClosesDown} FIN to the client); ${remaining} of the plan unused`);
		console.log(`      our client's closes and failed attempts: ${JSON.stringify(s.codes)}; pool ${JSON.stringify(s.pool)}, transmit buffer ${s.bytesWaiting} bytes, pending ${s.pending}`);
		console.log(`      XS live heap slots after gc(): ${fresh.slots} before the client, ${again.slots} after the warm-up, ${after.slots} after the soak and ${after.evaluations - again.evaluations} evaluations: growth ${growth}`);

		assert.equal(xsErrors, "", "the XS engine reported no error");
		// The faults happened.
		assert.ok(counts.cuts >= SIZE.minCuts, `at least ${SIZE.minCuts} cuts (${counts.cuts})`);
		assert.equal(remaining, 0, "the whole fault plan struck during the traffic");
		assert.ok(counts.stalls > 0 && counts.halfCloses > 0);
		assert.ok(proxy.accepted >= counts.cuts + counts.halfCloses + 2, "a new connection after every cut and half-close");
		assert.equal(s.sessionPresent, s.connects - 1, "every reconnect resumed the session");
		assert.deepEqual(Object.keys(s.codes).filter((code) => !EXPECTED_CLOSES.includes(code)), [], "no protocol error, no unexpected failure");
		// Device → broker, at MQTT.js.
		assert.equal(peer.bad, 0, "MQTT.js: no malformed message");
		assert.deepEqual(up1.firstMissing, [], "device → broker QoS 1: every message at least once");
		assert.equal(up1.missing, 0);
		assert.deepEqual(up2.firstMissing, [], "device → broker QoS 2: every message");
		assert.equal(up2.missing, 0);
		assert.deepEqual(up2.firstRepeated, [], "device → broker QoS 2: none twice");
		assert.equal(up2.repeated, 0);
		assert.equal(up1.outside + up2.outside, 0);
		assert.equal(peer.closes, 0, "MQTT.js's direct connection held");
		assert.equal(peer.failed, 0);
		assert.equal(peer.acked, 2 * END, "every down message acknowledged by the broker");
		// Broker → device, at our client.
		assert.equal(s.down.bad, 0, "ours: no malformed message");
		assert.deepEqual(s.down.q1.firstMissing, [], "broker → device QoS 1: every message at least once");
		assert.equal(s.down.q1.missing, 0);
		assert.deepEqual(s.down.q2.firstMissing, [], "broker → device QoS 2: every message");
		assert.equal(s.down.q2.missing, 0);
		assert.deepEqual(s.down.q2.firstRepeated, [], "broker → device QoS 2: none twice");
		assert.equal(s.down.q2.repeated, 0);
		assert.equal(s.down.q1.outside + s.down.q2.outside, 0);
		// Our client is back to empty.
		assert.equal(s.up.delivered, 2 * END, "onDelivered once per QoS 1/2 message published");
		assert.equal(s.pending, 0, "client.pending");
		assert.deepEqual(s.pool, { count: 0, live: 0, inflight: 0, bytes: 0 }, "the pool: nothing in flight, nothing queued");
		assert.equal(s.bytesWaiting, 0, "bytes waiting in the transmit buffer");
		assert.ok(s.connected);
		// And so is the heap.
		assert.equal(again.slots - baseline.slots, 1, "the engine's one slot per evaluation (two gc() in a row)");
		assert.equal(growth, 0, "XS live heap slots after gc(): after the soak vs after the warm-up, less one per evaluation");
	});
});
