// Throughput on Node: messages per second through a local mosquitto on loopback for our client and
// MQTT.js 5 (QoS 0, 1, 2, alternating rounds), against a raw-socket ceiling; used by bench/run.ts.
// Its publishers and helpers also serve bench/node-answerer.ts.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import { connect as mqttConnect } from "mqtt";
import type { IClientPublishOptions, MqttClient } from "mqtt";
import { startBroker } from "../test/lib/mosquitto.js";
import type { Broker } from "../test/lib/mosquitto.js";
import { createClient } from "../hosts/node/index.js";
import { encodeAck, encodeConnect, encodePublish, encodeSubscribe } from "../modules/mqtt/encode.js";
import { CONNACK, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK } from "../modules/mqtt/packet.js";
import type { QoS } from "../modules/mqtt/packet.js";
import { Signal } from "../test/lib/signal.js";

export const PAYLOAD_BYTES = 64;
/** Digits of the message number at the end of each topic (bench/<run>/<n>), so all have one length. */
export const DIGITS = 6;
const TOPIC_BYTES = "bench/".length + 4 + 1 + DIGITS;
/**
 * mosquitto's max_inflight_messages (default 20) also bounds the QoS 2 messages a client has in
 * flight towards it: with a 21st it closes the connection. Every QoS 2 publisher keeps to 20.
 */
export const QOS2_WINDOW = 20;
/**
 * QoS 1: messages a publisher may have awaiting PUBACK (the broker sets no limit). MQTT.js does best
 * near this; the full run also measures WINDOWS_COMPARED.
 */
export const QOS1_WINDOW = 10_000;
/** QoS 1 windows also measured in the full run; 0: the whole run at once. */
const WINDOWS_COMPARED = [1_000, 0];
/** The raw publisher hands the socket this much at a time. */
export const RAW_CHUNK = 64 * 1024;

/** Messages awaiting completion a publisher may have: ours (maxInflight = maxMessages) and MQTT.js alike. */
export function windowFor(qos: QoS): number {
	return qos === 2 ? QOS2_WINDOW : QOS1_WINDOW;
}

/** Our client's options for a window of `window` messages. */
export function oursOptions(window: number): { txBufferSize: number; queueBytes: number; maxMessages: number; maxInflight: number; keepAlive: number } {
	return { txBufferSize: 64 * 1024, queueBytes: Math.max(1 << 20, window * 128), maxMessages: window, maxInflight: window, keepAlive: 60 };
}

type Kind = "ours" | "mqttjs" | "raw";
const KINDS: Kind[] = ["ours", "mqttjs", "raw"];
const LABELS: Record<Kind, string> = { ours: "ours", mqttjs: "MQTT.js", raw: "raw ceiling" };

interface Trial {
	/** Messages per second, first publish to last completion. */
	rate: number;
	/** This process's CPU time (publisher and subscriber) per message, µs. */
	cpu: number;
	/** The broker's CPU time over the same span, as a fraction of it (NaN when unknown). */
	brokerBusy: number;
	/** Messages per read at the subscriber. */
	perRead: number;
}

// ---- helpers -----------------------------------------------------------------------------------

/** `promise`, or a rejection naming `what` after `ms`. */
/** Writes bytes [0, end) of `prepared` RAW_CHUNK at a time, each after the socket drained when it had to. */
export async function writeChunks(socket: net.Socket, prepared: Buffer, end: number, signal: Signal, ms: number, who: string): Promise<void> {
	for (let at = 0; at < end; at += RAW_CHUNK) {
		if (socket.write(prepared.subarray(at, Math.min(end, at + RAW_CHUNK)))) continue;
		let drained = false;
		socket.once("drain", () => {
			drained = true;
			signal.notify();
		});
		await signal.until(() => drained, ms, `${who}: drain`);
	}
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

let clockTicks = 0;

/** CPU milliseconds a process has used (Linux /proc), or NaN. */
function processCpuMs(pid: number | undefined): number {
	if (pid === undefined) return NaN;
	try {
		if (clockTicks === 0) clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks;
	}
	catch {
		return NaN;
	}
}

export function mqttJsVersion(): string {
	try {
		const json = JSON.parse(readFileSync(new URL("../../node_modules/mqtt/package.json", import.meta.url), "utf8")) as { version?: string };
		return json.version ?? "5";
	}
	catch {
		return "5";
	}
}

// ---- raw MQTT over a socket: the subscriber and the ceiling publisher ----------------------------

type PacketHandler = (type: number, data: Uint8Array, start: number) => void;

/**
 * A socket that sends hand-encoded packets and splits what it receives into packets. Its error or
 * close fails the trial's `signal`.
 */
class RawConnection {
	onPacket: PacketHandler = () => undefined;
	/** Called after the packets of each received chunk. */
	afterChunk: (() => void) | undefined;
	/** Chunks received. */
	reads = 0;
	private rest: Buffer | undefined;

	private constructor(readonly socket: net.Socket, readonly signal: Signal) {
		socket.on("error", (error) => signal.fail(error));
		socket.on("close", () => signal.fail(new Error("the broker closed a raw connection")));
	}

	/**
	 * Connects, sends CONNECT (clean session) and waits for an accepting CONNACK. With
	 * `pauseAfterRead` it reads at most once a millisecond (more per read, fewer reads).
	 */
	static async open(port: number, host: string, clientId: string, signal: Signal, pauseAfterRead = false): Promise<RawConnection> {
		// Reads land in one reused buffer, without stream 'data' events: the cheapest reading Node has.
		let connection: RawConnection | undefined;
		const socket = net.connect({
			host, port,
			onread: {
				buffer: Buffer.allocUnsafe(64 * 1024),
				callback: (n: number, buffer: Uint8Array): boolean => {
					connection?.received(buffer, n);
					if (!pauseAfterRead) return true;
					setTimeout(() => socket.resume(), 1);
					return false;
				},
			},
		});
		socket.setNoDelay(true);
		connection = new RawConnection(socket, signal);
		try {
			let connected = false;
			socket.once("connect", () => {
				connected = true;
				signal.notify();
			});
			await signal.until(() => connected, 5000, "raw connect");
			let accepted = false;
			connection.onPacket = (type, data, start) => {
				if (accepted) return;
				if (type !== CONNACK) signal.fail(new Error(`raw connection: packet type ${type} before CONNACK`));
				else if (data[start + 1] !== 0) signal.fail(new Error(`raw connection refused: ${data[start + 1]}`));
				else {
					accepted = true;
					signal.notify();
				}
			};
			const packet = new Uint8Array(256);
			socket.write(packet.subarray(0, encodeConnect(packet, 0, { type: 1, clientId, cleanSession: true, keepAlive: 0 })));
			await signal.until(() => accepted, 5000, "raw CONNACK");
			return connection;
		}
		catch (error) {
			connection.close();
			throw error;
		}
	}

	close(): void {
		this.socket.removeAllListeners("close");
		this.socket.destroy();
	}

	private received(chunk: Uint8Array, count: number): void {
		this.reads++;
		let data = chunk;
		let length = count;
		if (this.rest) {
			data = Buffer.concat([this.rest, chunk.subarray(0, count)]);
			length = data.length;
			this.rest = undefined;
		}
		let at = 0;
		while (length - at >= 2) {
			let value = 0;
			let multiplier = 1;
			let k = at + 1;
			let complete = false;
			while (k < length && k - at <= 4) {
				const b = data[k++]!;
				value += (b & 0x7F) * multiplier;
				multiplier *= 128;
				if (!(b & 0x80)) {
					complete = true;
					break;
				}
			}
			if (!complete || k + value > length) break;
			this.onPacket(data[at]! >> 4, data, k);
			at = k + value;
		}
		// The read buffer is reused: a partial packet is kept as a copy.
		if (at < length) this.rest = Buffer.from(data.subarray(at, length));
		this.afterChunk?.();
	}
}

/**
 * The subscriber every trial uses, whoever publishes: a raw connection subscribed at QoS 0 to
 * bench/<run>/+, marking each message number it sees, so that losses and duplicates show.
 */
class RawSubscriber {
	received = 0;
	duplicates = 0;
	private readonly seen: Uint8Array;
	private target = -1;

	private constructor(private readonly connection: RawConnection, count: number) {
		this.seen = new Uint8Array(count);
	}

	static async open(port: number, host: string, run: string, count: number, signal: Signal): Promise<RawSubscriber> {
		const connection = await RawConnection.open(port, host, `bench-sub-${run}`, signal, true);
		try {
			const subscriber = new RawSubscriber(connection, count);
			let subscribed = false;
			connection.onPacket = (type, data, start) => {
				if (type === PUBLISH) return subscriber.publish(data, start);
				if (subscribed) return;
				if (type !== SUBACK) return signal.fail(new Error(`raw subscriber: unexpected packet type ${type}`));
				if (data[start + 2] !== 0) signal.fail(new Error(`raw subscriber: SUBACK ${data[start + 2]}`));
				else {
					subscribed = true;
					signal.notify();
				}
			};
			const packet = new Uint8Array(256);
			connection.socket.write(packet.subarray(0, encodeSubscribe(packet, 0, 1, [{ filter: `bench/${run}/+`, qos: 0 }])));
			await signal.until(() => subscribed, 5000, "raw SUBACK");
			connection.reads = 0;
			return subscriber;
		}
		catch (error) {
			connection.close();
			throw error;
		}
	}

	get reads(): number {
		return this.connection.reads;
	}

	/** Resolves once `count` distinct messages have arrived. */
	waitFor(count: number, ms: number): Promise<void> {
		this.target = count;
		return this.connection.signal.until(() => this.received >= count, ms, () => `the subscriber has ${this.received} of ${count} messages`);
	}

	close(): void {
		this.connection.close();
	}

	private publish(data: Uint8Array, start: number): void {
		const end = start + 2 + ((data[start]! << 8) | data[start + 1]!);
		let n = 0;
		for (let i = end - DIGITS; i < end; i++) n = n * 10 + data[i]! - 48;
		if (n >= this.seen.length || this.seen[n]) {
			this.duplicates++;
			return;
		}
		this.seen[n] = 1;
		if (++this.received === this.target) this.connection.signal.notify();
	}
}

// ---- the publishers ----------------------------------------------------------------------------

/**
 * A connected publisher: `run` publishes every topic and resolves when all are complete. It notifies
 * the trial's signal of its progress, and fails it when its connection fails.
 */
export interface Publisher {
	/** Work before the clock starts (the raw publisher encodes its packets). */
	prepare?(topics: string[], payload: Buffer, qos: QoS): void;
	/**
	 * QoS 0 completes when `qos0Done` resolves (every message arrived where they go: a wait on the
	 * trial's signal, so that a failure ends it too); QoS 1/2 at the last acknowledgement.
	 */
	run(topics: string[], payload: Buffer, qos: QoS, qos0Done: () => Promise<void>, ms: number): Promise<void>;
	close(): Promise<void>;
}

/** Our client: publish until it returns -1, go on at onWritable; QoS 1/2 complete at onDelivered. */
export class OursPublisher implements Publisher {
	private client!: ReturnType<typeof createClient>;
	private topics: string[] = [];
	private payload: Buffer = Buffer.alloc(0);
	private qos: QoS = 0;
	private next = 0;
	private delivered = 0;
	private pumping = false;
	private again = false;
	private connected = false;

	private constructor(private readonly signal: Signal) {}

	static async open(port: number, host: string, clientId: string, window: number, signal: Signal): Promise<OursPublisher> {
		const p = new OursPublisher(signal);
		p.client = createClient({
			host, port, clientId, reconnect: false, ...oursOptions(window),
			onConnect: () => {
				p.connected = true;
				signal.notify();
			},
			onWritable: () => p.pump(),
			onDelivered: () => {
				if (++p.delivered === p.topics.length) signal.notify();
			},
			onError: (error) => signal.fail(error),
			onClose: (error) => {
				if (error) signal.fail(error);
			},
		});
		try {
			await signal.until(() => p.connected, 5000, "our client connecting");
		}
		catch (error) {
			p.client.close();
			throw error;
		}
		return p;
	}

	async run(topics: string[], payload: Buffer, qos: QoS, qos0Done: () => Promise<void>, ms: number): Promise<void> {
		this.topics = topics;
		this.payload = payload;
		this.qos = qos;
		this.next = 0;
		this.delivered = 0;
		this.pump();
		if (qos === 0) await qos0Done();
		else await this.signal.until(() => this.delivered === topics.length, ms, "our client publishing");
	}

	/** Publishes until the client refuses (-1); onWritable calls it again. Never drops a message. */
	private pump(): void {
		if (this.pumping) {
			this.again = true; // onWritable from inside publish()
			return;
		}
		this.pumping = true;
		const { client, topics, payload, qos } = this;
		const count = topics.length;
		do {
			this.again = false;
			while (this.next < count && client.publish(topics[this.next]!, payload, qos) >= 0) this.next++;
		} while (this.again && this.next < count);
		this.pumping = false;
	}

	async close(): Promise<void> {
		this.client.close();
	}
}

/**
 * MQTT.js: QoS 0 goes on while its callback comes back at once (when the socket is full MQTT.js
 * calls it at 'drain'); QoS 1/2 keep `window` publishes awaiting their callback.
 */
export class MqttJsPublisher implements Publisher {
	private client!: MqttClient;
	private window = 1;
	private topics: string[] = [];
	private payload: Buffer = Buffer.alloc(0);
	private options: IClientPublishOptions = { qos: 0 };
	private next = 0;
	private completed = 0;
	private inPump = false;
	private immediate = false;
	private readonly sent = (error?: Error): void => {
		if (error) return this.signal.fail(error);
		if (this.inPump) this.immediate = true;
		else this.pump0();
	};
	private readonly acked = (error?: Error): void => {
		if (error) return this.signal.fail(error);
		if (++this.completed === this.topics.length) this.signal.notify();
		else if (this.next < this.topics.length) this.client.publish(this.topics[this.next++]!, this.payload, this.options, this.acked);
	};

	private constructor(private readonly signal: Signal) {}

	static async open(port: number, host: string, clientId: string, window: number, signal: Signal): Promise<MqttJsPublisher> {
		const p = new MqttJsPublisher(signal);
		p.window = window;
		p.client = mqttConnect({ host, port, protocolVersion: 4, clientId });
		p.client.on("error", (error) => signal.fail(error));
		p.client.on("close", () => signal.fail(new Error("MQTT.js: the connection closed")));
		try {
			let connected = false;
			p.client.once("connect", () => {
				connected = true;
				signal.notify();
			});
			await signal.until(() => connected, 5000, "MQTT.js connecting");
		}
		catch (error) {
			p.client.end(true);
			throw error;
		}
		return p;
	}

	async run(topics: string[], payload: Buffer, qos: QoS, qos0Done: () => Promise<void>, ms: number): Promise<void> {
		this.topics = topics;
		this.payload = payload;
		this.options = { qos };
		this.next = 0;
		this.completed = 0;
		if (qos === 0) this.pump0();
		else {
			const first = Math.min(this.window, topics.length);
			while (this.next < first) this.client.publish(topics[this.next++]!, payload, this.options, this.acked);
		}
		if (qos === 0) await qos0Done();
		else await this.signal.until(() => this.completed === topics.length, ms, "MQTT.js publishing");
	}

	private pump0(): void {
		this.inPump = true;
		const { client, topics, payload, options, sent } = this;
		const count = topics.length;
		while (this.next < count) {
			this.immediate = false;
			client.publish(topics[this.next++]!, payload, options, sent);
			if (!this.immediate) break;
		}
		this.inPump = false;
	}

	async close(): Promise<void> {
		this.client.removeAllListeners("close");
		await within(new Promise<void>((resolve) => this.client.end(false, {}, () => resolve())), 5000, "MQTT.js closing")
			.catch(() => this.client.end(true));
	}
}

/**
 * The ceiling: PUBLISH packets encoded beforehand, written 64 KiB at a time as fast as the socket
 * takes them (the next write at 'drain'). QoS 1 completes at the last PUBACK; QoS 2 keeps
 * QOS2_WINDOW in flight, answering each PUBREC with PUBREL, and completes at the last PUBCOMP.
 */
class RawPublisher implements Publisher {
	private prepared: Buffer = Buffer.alloc(0);
	private size = 0;
	/** PUBRELs and window refills gathered while a received chunk is parsed, written after it. */
	private readonly batch = Buffer.alloc(RAW_CHUNK);
	private batched = 0;

	private constructor(private readonly connection: RawConnection) {}

	static async open(port: number, host: string, clientId: string, signal: Signal): Promise<RawPublisher> {
		return new RawPublisher(await RawConnection.open(port, host, clientId, signal));
	}

	/** Encodes every PUBLISH of the trial into one buffer (identifiers 1..n for QoS 1/2). */
	prepare(topics: string[], payload: Buffer, qos: QoS): void {
		const size = encodePublish(new Uint8Array(512), 0, topics[0]!, payload, qos, false, false, 1);
		const bytes = Buffer.alloc(size * topics.length);
		for (let i = 0; i < topics.length; i++) encodePublish(bytes, i * size, topics[i]!, payload, qos, false, false, qos > 0 ? i + 1 : 0);
		this.prepared = bytes;
		this.size = size;
	}

	async run(topics: string[], _payload: Buffer, qos: QoS, qos0Done: () => Promise<void>, ms: number): Promise<void> {
		const { prepared, size, connection } = this;
		const { socket, signal } = connection;
		const count = topics.length;
		const first = qos === 2 ? Math.min(QOS2_WINDOW, count) : count;
		let next = first;
		let completed = 0;
		connection.onPacket = (type, data, start) => {
			if (type === PUBACK || type === PUBCOMP) {
				if (++completed === count) signal.notify();
				if (type === PUBCOMP && next < count) this.append(prepared, next++ * size, size);
			}
			else if (type === PUBREC) {
				if (this.batched + 4 > this.batch.length) this.flushBatch();
				this.batched += encodeAck(this.batch, this.batched, PUBREL, (data[start]! << 8) | data[start + 1]!);
			}
			else if (completed < count) signal.fail(new Error(`raw publisher: unexpected packet type ${type}`));
		};
		connection.afterChunk = () => this.flushBatch();
		await writeChunks(socket, prepared, first * size, signal, ms, "raw publisher");
		if (qos === 0) await qos0Done();
		else await signal.until(() => completed === count, ms, "raw publisher");
	}

	private append(from: Buffer, at: number, length: number): void {
		if (this.batched + length > this.batch.length) this.flushBatch();
		from.copy(this.batch, this.batched, at, at + length);
		this.batched += length;
	}

	private flushBatch(): void {
		if (this.batched === 0) return;
		this.connection.socket.write(Buffer.from(this.batch.subarray(0, this.batched)));
		this.batched = 0;
	}

	async close(): Promise<void> {
		this.connection.afterChunk = undefined;
		this.connection.close();
	}
}

// ---- a trial and the section -------------------------------------------------------------------

let runs = 0;

/**
 * One publisher of `kind` sends `count` messages at `qos`, with at most `window` awaiting completion
 * (0: all; ours and MQTT.js); the subscriber must see each exactly once.
 */
async function trial(broker: Broker, kind: Kind, qos: QoS, count: number, ms: number, window = windowFor(qos)): Promise<Trial> {
	const run = `r${String(++runs % 1000).padStart(3, "0")}`;
	const topics = new Array<string>(count);
	for (let i = 0; i < count; i++) topics[i] = `bench/${run}/${String(i).padStart(DIGITS, "0")}`;
	const payload = Buffer.alloc(PAYLOAD_BYTES, 0x5A);
	// Every connection of the trial notifies this of its progress, and fails it when it fails.
	const signal = new Signal();
	const subscriber = await RawSubscriber.open(broker.port, broker.host, run, count, signal);
	let publisher: Publisher | undefined;
	const what = `${LABELS[kind]}, QoS ${qos}, ${count} messages`;
	try {
		const clientId = `bench-${kind}-${run}`;
		const w = window > 0 ? Math.min(window, count) : count;
		publisher = kind === "ours" ? await OursPublisher.open(broker.port, broker.host, clientId, w, signal)
			: kind === "mqttjs" ? await MqttJsPublisher.open(broker.port, broker.host, clientId, w, signal)
			: await RawPublisher.open(broker.port, broker.host, clientId, signal);
		publisher.prepare?.(topics, payload, qos);
		const brokerBefore = processCpuMs(broker.pid);
		const cpuBefore = process.cpuUsage();
		const started = performance.now();
		await publisher.run(topics, payload, qos, () => subscriber.waitFor(count, ms), ms).catch((error: Error) => {
			throw new Error(`${what}: ${error.message}`);
		});
		const elapsed = performance.now() - started;
		const cpu = process.cpuUsage(cpuBefore);
		const brokerMs = processCpuMs(broker.pid) - brokerBefore;
		// Every message reached the subscriber, once (QoS 1/2 completed at the publisher first).
		await subscriber.waitFor(count, ms).catch((error: Error) => {
			throw new Error(`${what}: complete at the publisher, but ${error.message}`);
		});
		if (subscriber.duplicates > 0) throw new Error(`${what}: ${subscriber.duplicates} duplicate messages at the subscriber`);
		return {
			rate: count / (elapsed / 1000),
			cpu: (cpu.user + cpu.system) / count,
			brokerBusy: brokerMs / elapsed,
			perRead: count / Math.max(1, subscriber.reads),
		};
	}
	finally {
		await publisher?.close();
		subscriber.close();
	}
}

function rate(n: number): string {
	return Math.round(n).toLocaleString("en");
}

function percent(n: number): string {
	return Number.isNaN(n) ? "?" : `${Math.round(n * 100)}%`;
}

const TITLE = "## Throughput on Node against MQTT.js 5";

/**
 * The markdown section and the targets missed (ours at least 2× MQTT.js on each QoS; not checked in
 * quick mode, whose cold figures mean nothing). Starts and stops its own broker; every connection and
 * the broker are stopped whatever happens. A run that cannot finish returns its error as a failure.
 */
export async function throughputSection(quick: boolean): Promise<{ lines: string[]; failures: string[] }> {
	const plan: Array<{ qos: QoS; messages: number }> = quick
		? [{ qos: 0, messages: 2_000 }, { qos: 1, messages: 1_000 }, { qos: 2, messages: 500 }]
		: [{ qos: 0, messages: 100_000 }, { qos: 1, messages: 50_000 }, { qos: 2, messages: 20_000 }];
	const qos1 = plan[1]!.messages;
	const rounds = quick ? 1 : 5;
	const windowRounds = 3;
	const ms = quick ? 10_000 : 60_000;
	const results = new Map<string, Trial[]>();
	const record = (key: string, t: Trial): void => void results.set(key, [...(results.get(key) ?? []), t]);
	let version = "";
	let mosquitto = true;
	try {
		// QoS 0 to a subscriber more than max_queued_messages (default 1000) behind is dropped: no limit.
		const broker = await startBroker({ maxQueuedMessages: 0 });
		version = broker.version;
		mosquitto = broker.kind === "mosquitto";
		try {
			for (const { qos, messages } of plan) {
				// Warm-up (not counted): the JIT, and the broker's first connections.
				if (!quick) for (const kind of KINDS) await trial(broker, kind, qos, Math.min(messages, 10_000), ms);
				for (let r = 0; r < rounds; r++)
					for (const kind of KINDS) record(`${kind}/${qos}`, await trial(broker, kind, qos, messages, ms));
			}
			if (!quick) {
				for (let r = 0; r < windowRounds; r++)
					for (const window of WINDOWS_COMPARED)
						for (const kind of ["ours", "mqttjs"] as const) record(`${kind}/1/${window}`, await trial(broker, kind, 1, qos1, ms, window));
			}
		}
		finally {
			await broker.stop();
		}
	}
	catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		return { lines: [TITLE, "", `Could not run: ${message}`], failures: [`throughput on Node: ${message}`] };
	}

	const failures: string[] = [];
	const mid = (key: string, field: keyof Trial): number => median(results.get(key)!.map((t) => t[field]));
	const lines = [
		TITLE,
		"",
		`${version} on loopback, started for the run; ${PAYLOAD_BYTES}-byte payloads, ${TOPIC_BYTES}-byte topics \`bench/<run>/<n>\`;`,
		`${rounds} round${rounds > 1 ? "s" : ""} alternating ours, MQTT.js and the raw ceiling${quick ? "" : ", after a warm-up of each"}; medians.`,
		"A rate runs from the first publish to the last completion: for QoS 0 the subscriber's last message,",
		"for QoS 1/2 the last onDelivered (ours), publish callback (MQTT.js), PUBACK or PUBCOMP (raw).",
		"**Target: ours at least 2× MQTT.js on each QoS.**",
		...(quick ? ["", "*Quick mode: small counts, one cold round: a check that the benchmark works, not figures to read (the target is not checked).*"] : []),
		"",
		"| QoS | Messages | ours ÷ MQTT.js | ours ÷ ceiling | MQTT.js ÷ ceiling | ours msg/s | MQTT.js msg/s | ceiling msg/s |",
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	];
	for (const { qos, messages } of plan) {
		const ours = mid(`ours/${qos}`, "rate");
		const theirs = mid(`mqttjs/${qos}`, "rate");
		const ceiling = mid(`raw/${qos}`, "rate");
		const ratio = ours / theirs;
		lines.push(`| ${qos} | ${messages.toLocaleString("en")} | **${ratio.toFixed(2)}×** | ${(ours / ceiling).toFixed(2)} | ${(theirs / ceiling).toFixed(2)} | ${rate(ours)} | ${rate(theirs)} | ${rate(ceiling)} |`);
		if (ratio < 2 && !quick) {
			const cap = ceiling < 2 * theirs ? `; the raw ceiling itself is ${(ceiling / theirs).toFixed(2)}× MQTT.js` : "";
			failures.push(`throughput QoS ${qos}: ours ${rate(ours)} msg/s is ${ratio.toFixed(2)}× MQTT.js (${rate(theirs)} msg/s), target 2×${cap}`);
		}
	}
	lines.push(
		"",
		"Where the time goes (medians; each cell ours / MQTT.js / ceiling):",
		"",
		"| QoS | this process's CPU per message (publisher + subscriber) | broker CPU busy | messages per subscriber read |",
		"| --- | ---: | ---: | ---: |",
	);
	for (const { qos } of plan) {
		const cells = (field: keyof Trial, format: (n: number) => string): string => KINDS.map((k) => format(mid(`${k}/${qos}`, field))).join(" / ");
		lines.push(`| ${qos} | ${cells("cpu", (n) => `${n.toFixed(1)} µs`)} | ${cells("brokerBusy", percent)} | ${cells("perRead", (n) => n.toFixed(1))} |`);
	}
	if (!quick) {
		lines.push(
			"",
			`QoS 1 by window (messages awaiting PUBACK, the same for both; medians of ${windowRounds} alternating rounds, the ${QOS1_WINDOW.toLocaleString("en")} row from above):`,
			"",
			"| Window | ours ÷ MQTT.js | ours msg/s | MQTT.js msg/s |",
			"| ---: | ---: | ---: | ---: |",
		);
		const windows = [...WINDOWS_COMPARED.filter((w) => w > 0 && w < QOS1_WINDOW), QOS1_WINDOW, ...WINDOWS_COMPARED.filter((w) => w === 0 || w > QOS1_WINDOW)];
		for (const w of windows) {
			const suffix = w === QOS1_WINDOW ? "" : `/${w}`;
			const ours = mid(`ours/1${suffix}`, "rate");
			const theirs = mid(`mqttjs/1${suffix}`, "rate");
			const label = w === 0 ? `all ${qos1.toLocaleString("en")}` : w.toLocaleString("en");
			lines.push(`| ${label} | ${(ours / theirs).toFixed(2)}× | ${rate(ours)} | ${rate(theirs)} |`);
		}
	}
	lines.push("", "Each round's msg/s:", "");
	for (const { qos } of plan) {
		const per = KINDS.map((k) => `${LABELS[k]} ${results.get(`${k}/${qos}`)!.map((t) => rate(t.rate)).join(", ")}`);
		lines.push(`- QoS ${qos}: ${per.join("; ")}`);
	}
	const o = oursOptions(QOS1_WINDOW);
	lines.push(
		"",
		`- **Ours:** \`createClient\` (hosts/node); txBufferSize ${o.txBufferSize.toLocaleString("en")}, keepAlive ${o.keepAlive}, reconnect off;`,
		`  maxInflight = maxMessages = the window (${QOS1_WINDOW.toLocaleString("en")} for QoS 1, ${QOS2_WINDOW} for QoS 2; QoS 0 uses neither), queueBytes`,
		`  ${o.queueBytes.toLocaleString("en")} (128 per message of a larger window). The loop publishes until \`publish\` returns -1, then`,
		"  waits for onWritable and retries the same message: nothing is dropped.",
		`- **MQTT.js ${mqttJsVersion()}:** \`connect\` with its defaults and protocolVersion 4 (and a client id). QoS 0 goes on while`,
		"  the publish callback comes back at once, and otherwise waits for it (MQTT.js calls it at the socket's 'drain');",
		"  QoS 1/2 keep the same window as ours of publishes awaiting their callback (MQTT.js itself has no limit).",
		`- **Ceiling:** a raw net.Socket writing PUBLISH packets encoded beforehand, ${RAW_CHUNK / 1024} KiB per write, the next at 'drain';`,
		`  QoS 2 keeps ${QOS2_WINDOW} in flight, writing PUBRELs and the next PUBLISHes after each received chunk.`,
		"- **Subscriber, the same for all three:** a raw net.Socket in this process, subscribed at QoS 0 to the run's",
		"  topics, reading into one reused buffer at most once a millisecond (so that it costs little whatever the",
		"  traffic); every trial checks that each message arrived exactly once.",
		...(mosquitto ? [
			"- **Broker:** defaults except max_queued_messages 0 (no limit): at its default of 1000, mosquitto drops QoS 0",
			"  messages for a subscriber that falls 1000 behind. max_inflight_messages stays 20, and it bounds QoS 2",
			"  towards the broker too: mosquitto closes the connection of a client with a 21st QoS 2 message in flight.",
			"  Hence the QoS 2 window of 20 for everyone.",
		] : [
			"- **Broker:** aedes, in this process (mosquitto is not installed, or MQTT_TEST_BROKER=aedes): it shares the",
			"  thread with publisher and subscriber, and its CPU is in this process's figure. The targets are for mosquitto.",
		]),
		"- **Reading it:** the broker's CPU near 100% means the broker, not the publisher, sets the rate. The ceiling",
		"  is a publisher that costs next to nothing; a client at or above it (the broker's work varies a little with",
		"  each sender's pattern) is held back by the broker alone, and no client can beat MQTT.js by more than the",
		"  ceiling's ratio to it.",
		`- ${os.cpus()[0]?.model ?? "unknown CPU"} (${os.cpus().length} cores), ${os.type()} ${os.release()}, Node ${process.version}.`,
	);
	return { lines, failures };
}
