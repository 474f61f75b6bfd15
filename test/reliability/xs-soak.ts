// Runs inside the XS engine for the soak (soak.test.ts): our Client over the Node parent's socket and
// timers, publishing numbered QoS 1/2 messages and counting, in place, every numbered message it receives.

import { XsClock } from "../../hosts/xs/clock.js";
import { XsTransport } from "../../hosts/xs/transport.js";
import { Client } from "../../modules/mqtt/client.js";
import type { Message } from "../../modules/mqtt/client.js";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import { Random } from "../lib/random.js";
import { checkReceipts, DIGITS, distinct, PAYLOAD_BYTES } from "./receipts.js";

export interface SoakConfig {
	host: string;
	port: number;
	clientId: string;
	/** Publishes to `<prefix>/up/q1` and `/q2`; subscribes to `<prefix>/down/q1` (QoS 1) and `/q2` (QoS 2). */
	prefix: string;
	/** Message numbers 0..capacity-1 are counted. */
	capacity: number;
	keepAlive: number;
	maxInflight: number;
	maxInboundQos2: number;
	maxMessages: number;
	queueBytes: number;
	/** Seeds the reconnect jitter. */
	seed: number;
}

/** Paced publishing: the allowance grows every TICK ms; at most BURST seconds' worth builds up. */
const TICK = 20;
const BURST = 0.25;

/** The number at the start of a payload (in place, no allocation), or -1. */
function numberIn(m: Message): number {
	const b = m.buffer;
	const end = m.payloadEnd;
	let i = m.payloadStart;
	if (end - i < DIGITS) return -1;
	let n = 0;
	for (const stop = i + DIGITS; i < stop; i++) {
		const c = b[i]!;
		if (c < 48 || c > 57) return -1;
		n = n * 10 + (c - 48);
	}
	return n;
}

class Soak {
	readonly client: Client;
	/** Receipts per message number, saturating at 255. */
	readonly down1: Uint8Array;
	readonly down2: Uint8Array;
	/** Received with the DUP flag; with a number outside 0..capacity-1 or none. */
	dupFlagged = 0;
	bad = 0;
	/** The current range of up message numbers, the next number per QoS, and the pace (messages per second; 0: as fast as the pool takes them). */
	from = 0;
	next1 = 0;
	next2 = 0;
	upTo = 0;
	rate = 0;
	delivered = 0;
	connects = 0;
	sessionPresent = 0;
	closes = 0;
	errors = 0;
	subscribed = 0;
	/** onClose/onError codes; every key made before measuring, so counting adds no property. */
	readonly codes: Record<string, number> = {};
	/** Messages the pace allows so far in this range. */
	private allowed = 0;
	private lastTick = 0;
	private readonly ticker = new XsClock();
	private readonly onTick = (): void => this.tick();
	private readonly payload = new Uint8Array(PAYLOAD_BYTES);
	private readonly up1: string;
	private readonly up2: string;

	constructor(readonly config: SoakConfig) {
		const self = this;
		this.down1 = new Uint8Array(config.capacity);
		this.down2 = new Uint8Array(config.capacity);
		this.up1 = `${config.prefix}/up/q1`;
		this.up2 = `${config.prefix}/up/q2`;
		this.payload.fill(0x2E); // "."
		const codes = Object.keys(ErrorCode);
		for (let i = 0; i < codes.length; i++) this.codes[codes[i]!] = 0;
		this.codes.other = 0;
		const random = new Random(config.seed);
		this.client = new Client({
			host: config.host, port: config.port, clientId: config.clientId, cleanSession: false,
			keepAlive: config.keepAlive, connectTimeout: 2000,
			maxInflight: config.maxInflight, maxInboundQos2: config.maxInboundQos2, maxMessages: config.maxMessages, queueBytes: config.queueBytes,
			reconnect: { initialDelay: 20, factor: 2, maxDelay: 400, jitter: 0.5 },
			random: () => random.u32() / 4294967296,
			transport: new XsTransport(),
			clock: new XsClock(),
			onConnect(present) {
				self.connects++;
				if (present) self.sessionPresent++;
				self.pump();
			},
			onClose(error) {
				self.closes++;
				self.count(error);
			},
			onError(error) {
				self.errors++;
				self.count(error);
			},
			onDelivered() {
				self.delivered++;
			},
			onWritable() {
				self.pump();
			},
			onSubscribe() {
				self.subscribed++;
			},
		});
		this.client.subscribe(`${config.prefix}/down/q1`, 1, (m) => this.received(m, this.down1));
		this.client.subscribe(`${config.prefix}/down/q2`, 2, (m) => this.received(m, this.down2));
	}

	/** Publishes up messages `from` .. `to` - 1, QoS 1 and QoS 2 each, `rate` messages a second (0: as the pool takes them). */
	go(from: number, to: number, rate: number): void {
		this.from = this.next1 = this.next2 = from;
		this.upTo = to;
		this.rate = rate;
		this.allowed = 0;
		this.lastTick = this.ticker.now();
		if (rate > 0) this.ticker.arm(TICK, this.onTick);
		this.pump();
	}

	private tick(): void {
		const now = this.ticker.now();
		const sent = this.next1 + this.next2 - 2 * this.from;
		this.allowed = Math.min(this.allowed + (this.rate * (now - this.lastTick)) / 1000, sent + this.rate * BURST);
		this.lastTick = now;
		this.pump();
		if (this.next2 < this.upTo) this.ticker.arm(TICK, this.onTick);
	}

	/** Publishes what the pace and the pool allow, alternating QoS 1 and 2; onWritable calls again after a refusal. */
	pump(): void {
		const client = this.client;
		const payload = this.payload;
		while (this.next2 < this.upTo) {
			if (this.rate > 0 && this.next1 + this.next2 - 2 * this.from >= this.allowed) return;
			const qos2 = this.next1 > this.next2;
			let n = qos2 ? this.next2 : this.next1;
			for (let i = DIGITS - 1; i >= 0; i--) {
				payload[i] = 48 + (n % 10);
				n = Math.floor(n / 10);
			}
			if (client.publish(qos2 ? this.up2 : this.up1, payload, qos2 ? 2 : 1, false) < 0) return;
			if (qos2) this.next2++;
			else this.next1++;
		}
	}

	private received(m: Message, counts: Uint8Array): void {
		if (m.dup) this.dupFlagged++;
		const n = numberIn(m);
		if (n < 0 || n >= counts.length) {
			this.bad++;
			return;
		}
		if (counts[n]! < 255) counts[n]!++;
	}

	private count(error: MqttError | Error | undefined): void {
		const code = error ? (error as { code?: string }).code : undefined;
		if (code !== undefined && this.codes[code] !== undefined) this.codes[code]!++;
		else this.codes.other!++;
	}

	/** Everything the parent asserts on, as JSON (allocates; garbage once returned). */
	status(from: number, to: number): string {
		const c = this.client;
		const pool = c.session.pool;
		const codes: Record<string, number> = {};
		const keys = Object.keys(this.codes);
		for (let i = 0; i < keys.length; i++) if (this.codes[keys[i]!]! > 0) codes[keys[i]!] = this.codes[keys[i]!]!;
		return JSON.stringify({
			connected: c.connected, connects: this.connects, sessionPresent: this.sessionPresent,
			closes: this.closes, errors: this.errors, codes, subscribed: this.subscribed,
			up: { next1: this.next1, next2: this.next2, upTo: this.upTo, delivered: this.delivered },
			pending: c.pending, pool: { count: pool.count, live: pool.live, inflight: pool.inflight, bytes: pool.bytesUsed },
			bytesWaiting: c.bytesWaiting,
			down: { q1: checkReceipts(this.down1, from, to), q2: checkReceipts(this.down2, from, to), dupFlagged: this.dupFlagged, bad: this.bad },
			stats: c.stats,
		});
	}

	/** A short progress line: connected, up published per QoS, delivered, pending, down received (distinct) per QoS, connects, SUBACKs. */
	progress(): string {
		const c = this.client;
		return `${c.connected ? 1 : 0} ${this.next1} ${this.next2} ${this.delivered} ${c.pending} ${distinct(this.down1)} ${distinct(this.down2)} ${this.connects} ${this.subscribed}`;
	}
}

let soak: Soak | undefined;

/** What the parent calls with `evaluate`. */
const api = {
	start(config: SoakConfig): void {
		soak = new Soak(config);
	},
	go(from: number, to: number, rate: number): void {
		soak!.go(from, to, rate);
	},
	status(from: number, to: number): ArrayBuffer {
		return new TextEncoder().encode(soak!.status(from, to)).buffer as ArrayBuffer;
	},
	progress(): ArrayBuffer {
		return new TextEncoder().encode(soak!.progress()).buffer as ArrayBuffer;
	},
	close(): void {
		soak?.client.close();
	},
};

(globalThis as unknown as { soak: typeof api; xsHostReady: boolean }).soak = api;
(globalThis as unknown as { xsHostReady: boolean }).xsHostReady = true;
