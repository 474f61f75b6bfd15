// The two sides of the integration tests: our client (createClient from hosts/node) with every
// callback recorded, and MQTT.js 5 as the other client; all closed by closeAll() after each test.

import { connect } from "mqtt";
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient } from "mqtt";
import { createClient } from "../../hosts/node/index.js";
import type { NodeClientOptions } from "../../hosts/node/index.js";
import type { Client, Message, MessageHandler } from "../../modules/mqtt/client.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import type { QoS } from "../../modules/mqtt/packet.js";
import { HOST, startBroker } from "./broker.js";
import type { Broker, BrokerOptions } from "./broker.js";
import { Signal } from "./signal.js";

/** A message as a test keeps it: copied out of the client's receive buffer. */
export interface Received {
	/** Which handler took it ("onMessage" for the catch-all, "oversize" for onOversize). */
	via: string;
	topic: string;
	payload: Uint8Array;
	qos: number;
	retain: boolean;
	dup: boolean;
	/** Whole payload length (differs from payload.length for an oversize message). */
	length: number;
	at: number;
}

const open: Array<{ close(): Promise<void> }> = [];

/** Adds something (a proxy with close(), a broker with stop()) for closeAll() to end. */
export function track<T extends { close(): Promise<void> } | { stop(): Promise<void> }>(thing: T): T {
	open.push({ close: () => ("close" in thing ? thing.close() : thing.stop()) });
	return thing;
}

/** Closes every client the test opened (ours and MQTT.js) and whatever it tracked; for afterEach. */
export async function closeAll(): Promise<void> {
	const all = open.splice(0, open.length);
	await Promise.all(all.map((c) => c.close()));
}

let counter = 0;
/** A topic prefix unique to this process and call, so tests never see each other's messages. */
export function unique(name: string): string {
	counter++;
	return `it/${process.pid}-${Date.now().toString(36)}-${counter}/${name}`;
}

/** The error code of an MqttError (undefined for any other error). */
export function codeOf(error: Error | undefined): string | undefined {
	return error === undefined ? undefined : (error as { code?: string }).code;
}

export function now(): number {
	return performance.now();
}

/** Our client, with its callbacks recorded and a signal for waiting on them. */
export class Ours {
	readonly client: Client;
	readonly signal = new Signal();
	readonly connects: Array<{ sessionPresent: boolean; at: number }> = [];
	readonly closes: Array<{ error: MqttError | undefined; at: number }> = [];
	readonly errors: Array<{ error: MqttError | Error; at: number }> = [];
	readonly delivered: number[] = [];
	/** The QoS each onDelivered gave, in the order of `delivered`. */
	readonly deliveredQos: number[] = [];
	/** Messages set aside (onRejected): packet identifier, topic and payload text. */
	readonly rejected: Array<{ packetId: number; topic: string; payload: string; qos: number; code: string }> = [];
	readonly subacks: Array<{ filter: string; code: number }> = [];
	readonly unsubacks: string[] = [];
	readonly messages: Received[] = [];
	writable = 0;
	/** Called on each onWritable, after it is recorded (to retry refused publishes). */
	whenWritable: (() => void) | undefined;

	constructor(options: Omit<NodeClientOptions, "host"> & { port: number; host?: string }) {
		// The callbacks are arrow functions: they record into this object, whatever `this` the client passes.
		this.client = createClient({
			host: HOST,
			reconnect: { initialDelay: 50, maxDelay: 200, jitter: 0 },
			connectTimeout: 2000,
			...options,
			onConnect: (sessionPresent) => this.record(() => this.connects.push({ sessionPresent, at: now() })),
			onClose: (error) => this.record(() => this.closes.push({ error, at: now() })),
			onError: (error) => this.record(() => this.errors.push({ error, at: now() })),
			onDelivered: (packetId, qos) => this.record(() => {
				this.delivered.push(packetId);
				this.deliveredQos.push(qos);
			}),
			onRejected: (error, m) => this.record(() => this.rejected.push({ packetId: m.packetId, topic: m.topic, payload: Buffer.from(m.payload).toString(), qos: m.qos, code: error.code })),
			onSubscribe: (filter, code) => this.record(() => this.subacks.push({ filter, code })),
			onUnsubscribe: (filter) => this.record(() => this.unsubacks.push(filter)),
			onWritable: () => this.record(() => {
				this.writable++;
				this.whenWritable?.();
			}),
			onMessage: this.handler("onMessage"),
			onOversize: this.handler("oversize"),
		});
		open.push(this);
	}

	/** A subscription handler that records what it gets under `name`. */
	handler(name: string): MessageHandler {
		return (m: Message) => this.record(() => this.messages.push({
			via: name, topic: m.topic(), payload: m.payloadBytes(), qos: m.qos, retain: m.retain, dup: m.dup,
			length: m.oversize ? m.payloadLength : m.payloadEnd - m.payloadStart, at: now(),
		}));
	}

	/** Subscribes and waits for the SUBACK; returns its return code. */
	async subscribe(filter: string, qos: QoS, handler?: MessageHandler, timeout = 3000): Promise<number> {
		const before = this.subacks.length;
		this.client.subscribe(filter, qos, handler);
		const found = (): { filter: string; code: number } | undefined => {
			for (let i = before; i < this.subacks.length; i++) if (this.subacks[i]!.filter === filter) return this.subacks[i];
			return undefined;
		};
		await this.signal.until(() => found() !== undefined, timeout, `SUBACK for ${filter}`);
		return found()!.code;
	}

	async unsubscribe(filter: string, timeout = 3000): Promise<void> {
		const before = this.unsubacks.length;
		this.client.unsubscribe(filter);
		await this.signal.until(() => this.unsubacks.indexOf(filter, before) >= 0, timeout, `UNSUBACK for ${filter}`);
	}

	/** Waits until onConnect has fired `count` times in all. */
	connected(count = 1, timeout = 3000): Promise<void> {
		return this.signal.until(() => this.connects.length >= count, timeout, `onConnect #${count}`);
	}

	/** Messages taken by `via` (any handler when omitted) on `topic`. */
	on(topic: string, via?: string): Received[] {
		return this.messages.filter((m) => m.topic === topic && (via === undefined || m.via === via));
	}

	/** Waits for `condition`; `pollEvery` ms for conditions on counters no callback announces. */
	until(condition: () => boolean, timeout: number, what: string, pollEvery = 0): Promise<void> {
		return this.signal.until(condition, timeout, what, pollEvery);
	}

	async close(): Promise<void> {
		try {
			this.client.close();
		}
		catch {
			// closing twice is fine
		}
	}

	private record(action: () => void): void {
		action();
		this.signal.notify();
	}
}

export interface PeerMessage {
	topic: string;
	payload: Buffer;
	qos: number;
	retain: boolean;
	dup: boolean;
	/** MQTT 5.0 (a Peer connected with protocolVersion 5): the message's properties. */
	properties: IPublishPacket["properties"];
}

/** An MQTT.js 5 client speaking MQTT 3.1.1 (or 5.0, with protocolVersion 5), recording what it receives. */
export class Peer {
	readonly messages: PeerMessage[] = [];
	readonly signal = new Signal();

	private constructor(readonly client: MqttClient) {
		client.on("message", (topic, payload, packet) => {
			this.messages.push({ topic, payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, properties: packet.properties });
			this.signal.notify();
		});
		open.push(this);
	}

	/** Connects to 127.0.0.1:`port`; MQTT.js's own reconnect is off so that failures show. */
	static connect(port: number, options: IClientOptions = {}): Promise<Peer> {
		return new Promise((resolve, reject) => {
			const client = connect({
				host: HOST, port, protocol: "mqtt", protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000,
				clientId: `mqttjs-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`,
				...options,
			});
			const failed = (error: Error): void => {
				client.end(true);
				reject(error);
			};
			client.once("error", failed);
			client.once("connect", () => {
				client.off("error", failed);
				client.on("error", () => {
					// reported by the test's assertions, not thrown from an event
				});
				resolve(new Peer(client));
			});
		});
	}

	/** Subscribes and returns the granted QoS (or 128). */
	async subscribe(filter: string, qos: QoS): Promise<number> {
		const granted = await this.client.subscribeAsync(filter, { qos });
		return granted[0]!.qos;
	}

	/** Publishes and resolves when the exchange is complete (written for QoS 0; PUBACK / PUBCOMP for 1 / 2). */
	async publish(topic: string, payload: string | Uint8Array, options: IClientPublishOptions = {}): Promise<void> {
		await this.client.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), options);
	}

	on(topic: string): PeerMessage[] {
		return this.messages.filter((m) => m.topic === topic);
	}

	until(condition: () => boolean, timeout: number, what: string): Promise<void> {
		return this.signal.until(condition, timeout, what);
	}

	/** Drops the connection at once (no waiting on a broker that may be gone). */
	close(): Promise<void> {
		return new Promise((resolve) => {
			this.client.end(true, () => resolve());
		});
	}
}

/** Byte equality of two payloads. */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
	if (actual.length !== expected.length) return false;
	for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) return false;
	return true;
}

/**
 * A broker for one mocha suite: started before its tests, stopped after them, every peer closed
 * after each test. The object returned stands for it (it is valid once the suite runs).
 */
export function suiteBroker(options: BrokerOptions = {}): Broker {
	let current: Broker | undefined;
	before(async () => {
		current = await startBroker(options);
	});
	afterEach(closeAll);
	after(async () => {
		await closeAll();
		await current?.stop();
	});
	const live = (): Broker => {
		if (!current) throw new Error("the suite's broker has not started");
		return current;
	};
	return {
		get kind() { return live().kind; },
		get host() { return live().host; },
		get port() { return live().port; },
		get version() { return live().version; },
		get pid() { return live().pid; },
		stop: () => live().stop(),
		kill: (signal?: NodeJS.Signals) => live().kill(signal),
		restart: () => live().restart(),
	};
}
