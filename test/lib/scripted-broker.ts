// A fake broker on 127.0.0.1 that plays a script per connection: it decodes what the client sends,
// waits for CONNECT, then sends raw bytes, waits, dribbles, closes or serves normally. It speaks
// MQTT 3.1.1 (decoding with our server codec) or MQTT 5.0 (decoding with mqtt-packet, a codec that
// shares nothing with the client's, and answering in the 5.0 layout).

import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { encode, encodeConnack5, serverReader, toPacket } from "./server-codec.js";
import { AUTH } from "../../modules/mqtt/constants.js";
import { encodePublish5, encodeReasonPacket } from "../../modules/mqtt/encode5.js";
import {
	CONNECT, DISCONNECT, PINGREQ, PUBLISH, PUBREL, SUBSCRIBE, UNSUBSCRIBE, PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK, PINGRESP,
} from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet, Payload, PublishPacket, SubscribePacket } from "../../modules/mqtt/packet.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { HOST } from "./broker.js";
import { ClientPackets } from "./mqtt-packet5.js";
import type { Fields, Parsed } from "./mqtt-packet5.js";
import { Signal } from "./signal.js";

/** One step of a connection's script, run after the client's CONNECT has arrived. */
export type Step =
	/** Writes these bytes (or the bytes the function makes from what the connection saw so far). */
	| { kind: "send"; bytes: Uint8Array | ((c: ScriptedConnection) => Uint8Array) }
	| { kind: "delay"; ms: number }
	/** Waits until `condition` holds for the connection (checked on every packet it receives). */
	| { kind: "until"; condition: (c: ScriptedConnection) => boolean; what: string; timeout: number }
	/** Writes the bytes one at a time, `every` ms apart; with `forever`, goes on with `filler` bytes until closed. */
	| { kind: "dribble"; bytes: Uint8Array; every: number; forever: boolean; filler: number }
	/** Closes the connection from the broker's side. */
	| { kind: "close" }
	/** From now on answers like a broker: PUBACK, PUBREC, PUBCOMP, SUBACK (granting what was asked), UNSUBACK, PINGRESP; with the quirks given. */
	| { kind: "serve"; quirks: Quirks };

/** How real brokers deviate, for `serve`. */
export interface Quirks {
	/** Answer a QoS 2 PUBLISH with PUBACK (RabbitMQ grants at most QoS 1). */
	qos2AsPuback?: boolean;
	/** The SUBACK return code for a filter (default: the QoS asked for). */
	subackCode?: (filter: string, qos: number) => number;
	/** Close the connection instead of answering this packet (RabbitMQ on a forbidden topic). */
	closeOn?: (packet: Packet) => boolean;
}

export const send = (bytes: Uint8Array | number[] | ((c: ScriptedConnection) => Uint8Array)): Step =>
	({ kind: "send", bytes: Array.isArray(bytes) ? Uint8Array.from(bytes) : bytes });
export const delay = (ms: number): Step => ({ kind: "delay", ms });
export const until = (what: string, condition: (c: ScriptedConnection) => boolean, timeout = 5000): Step =>
	({ kind: "until", condition, what, timeout });
export const dribble = (bytes: Uint8Array | number[], every: number): Step =>
	({ kind: "dribble", bytes: Uint8Array.from(bytes), every, forever: false, filler: 0 });
export const dribbleForever = (bytes: Uint8Array | number[], every: number, filler = 0x78): Step =>
	({ kind: "dribble", bytes: Uint8Array.from(bytes), every, forever: true, filler });
export const close = (): Step => ({ kind: "close" });
export const serve = (quirks: Quirks = {}): Step => ({ kind: "serve", quirks });
/** CONNACK: accepted (return code 0) unless `returnCode` says otherwise. */
export const connack = (sessionPresent: boolean, returnCode = 0): Step => send([0x20, 0x02, sessionPresent ? 1 : 0, returnCode]);

/** The bytes `encoder` writes at the start of the buffer it is given (any of our encoders). */
export function written(encoder: (buffer: Uint8Array) => number): Uint8Array {
	const buffer = new Uint8Array(65_536);
	return buffer.slice(0, encoder(buffer));
}

/** The bytes of a well-formed packet (encoded by our codec), in the layout of `version` (default 3.1.1). */
export function packetBytes(packet: Packet, version: 4 | 5 = 4): Uint8Array {
	return written((buffer) => encode(packet, buffer, 0, version));
}

// ---- MQTT 5.0 steps ---------------------------------------------------------------------------

/** MQTT 5.0 CONNACK (5.0 §3.2): accepted with `properties` unless `reasonCode` (0x80 and above) refuses. */
export const connack5 = (properties: PropertyValues = {}, sessionPresent = false, reasonCode = 0): Step =>
	send(written((b) => encodeConnack5(b, 0, sessionPresent, reasonCode, properties)));
/** MQTT 5.0 DISCONNECT from the broker (5.0 §3.14), with its reason code and properties. */
export const disconnect5 = (reasonCode: number, properties?: PropertyValues): Step =>
	send(written((b) => encodeReasonPacket(b, 0, DISCONNECT, reasonCode, properties)));
/** MQTT 5.0 AUTH (5.0 §3.15): 0x18 Continue authentication, or 0x00 Success. */
export const auth5 = (reasonCode: number, properties?: PropertyValues): Step =>
	send(written((b) => encodeReasonPacket(b, 0, AUTH, reasonCode, properties)));
/** MQTT 5.0 PUBLISH from the broker (5.0 §3.3); `topic` "" with a `topicAlias` uses an alias. */
export const publish5 = (topic: string, payload: Payload, qos: number, packetId: number, properties?: PropertyValues): Step =>
	send(written((b) => encodePublish5(b, 0, topic, payload, qos, false, false, packetId, properties)));

/** A packet the client sent, decoded, with when it arrived (performance.now()); MQTT 5.0 adds its reason code and properties. */
export interface Seen extends Parsed {
	at: number;
}

/** Decodes what a client sends: the packets a chunk completes; `error` once the bytes do not decode. */
interface Decoder {
	feed(chunk: Uint8Array): Parsed[];
	error: Error | undefined;
}

/** MQTT 3.1.1: our server codec. */
class ServerPackets implements Decoder {
	private readonly reader = serverReader(65_536);
	error: Error | undefined;

	feed(chunk: Uint8Array): Parsed[] {
		const out: Parsed[] = [];
		const reader = this.reader;
		try {
			for (let at = 0; at < chunk.length && this.error === undefined;) {
				const n = reader.feed(chunk, at, chunk.length - at);
				at += n;
				while (reader.next()) out.push({ packet: toPacket(reader.view) });
				if (n === 0) break;
			}
		}
		catch (error) {
			this.error = error as Error;
		}
		return out;
	}
}

export class ScriptedConnection {
	readonly packets: Seen[] = [];
	connect: ConnectPacket | undefined;
	/** MQTT 5.0: the CONNECT's properties (mqtt-packet's names), when it had any. */
	connectProperties: Fields | undefined;
	/** Who ended the connection: "client" when its FIN (or reset) came before the broker closed. */
	closedBy: "client" | "broker" | undefined;
	closedAt = -1;
	serving = false;
	quirks: Quirks = {};
	/** Bytes the broker wrote. */
	bytesSent = 0;
	readonly decoder: Decoder;

	constructor(readonly index: number, readonly acceptedAt: number, readonly socket: net.Socket, readonly version: 4 | 5) {
		this.decoder = version === 5 ? new ClientPackets() : new ServerPackets();
	}

	get closed(): boolean {
		return this.closedBy !== undefined;
	}

	/** The PUBLISH packets the client sent on this connection, in order. */
	publishes(): PublishPacket[] {
		const out: PublishPacket[] = [];
		for (const s of this.packets) if (s.packet.type === PUBLISH) out.push(s.packet as PublishPacket);
		return out;
	}

	/** Packets of `type` the client sent on this connection. */
	ofType(type: number): Seen[] {
		return this.packets.filter((s) => s.packet.type === type);
	}

	/** The last packet the client sent on this connection. */
	get last(): Seen | undefined {
		return this.packets[this.packets.length - 1];
	}
}

export class ScriptedBroker {
	readonly host = HOST;
	readonly connections: ScriptedConnection[] = [];
	/** Something happened (accept, packet, close): for waiting with `signal.until`. */
	readonly signal = new Signal();
	/** What went wrong on the broker's side: a script step that timed out, bytes from the client that do not decode. */
	readonly problems: string[] = [];
	private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
	private stopped = false;

	private constructor(private readonly server: net.Server, readonly port: number, private readonly script: (index: number) => Step[], readonly version: 4 | 5) {}

	/**
	 * Listens on a random 127.0.0.1 port; connection `i` (0-based, in accept order) plays `script(i)`.
	 * `version` 5: decodes MQTT 5.0 (the level the CONNECT names, then) and serves in its layout.
	 */
	static async start(script: (index: number) => Step[], version: 4 | 5 = 4): Promise<ScriptedBroker> {
		let broker: ScriptedBroker | undefined;
		const server = net.createServer((socket) => broker?.accept(socket));
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(0, HOST, () => resolve());
		});
		broker = new ScriptedBroker(server, (server.address() as net.AddressInfo).port, script, version);
		return broker;
	}

	/** Waits until connection `index` has been accepted. */
	async connection(index: number, timeout = 5000): Promise<ScriptedConnection> {
		await this.signal.until(() => this.connections.length > index, timeout, `connection #${index} at the scripted broker`);
		return this.connections[index]!;
	}

	/** Stops listening, ends every connection and every script. */
	async close(): Promise<void> {
		if (this.stopped) return;
		this.stopped = true;
		this.timers.forEach((t) => {
			clearTimeout(t.timer);
			t.resolve();
		});
		this.timers.clear();
		this.signal.notify(); // scripts waiting in `until` see `stopped` and end
		for (const c of this.connections) {
			if (!c.closedBy) c.closedBy = "broker";
			c.socket.destroy();
		}
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	private accept(socket: net.Socket): void {
		if (this.stopped) {
			socket.destroy();
			return;
		}
		const c = new ScriptedConnection(this.connections.length, performance.now(), socket, this.version);
		this.connections.push(c);
		socket.setNoDelay(true);
		socket.on("data", (chunk: Buffer) => this.received(c, chunk));
		socket.on("error", () => {
			// a reset from the client: "close" follows
		});
		const ended = (): void => {
			if (c.closedBy) return;
			c.closedBy = "client";
			c.closedAt = performance.now();
			socket.destroy();
			this.signal.notify();
		};
		socket.once("end", ended);
		socket.once("close", ended);
		this.signal.notify();
		void this.play(c);
	}

	private received(c: ScriptedConnection, chunk: Buffer): void {
		for (const parsed of c.decoder.feed(chunk)) {
			const packet = parsed.packet;
			c.packets.push({ ...parsed, at: performance.now() });
			if (packet.type === CONNECT && !c.connect) {
				c.connect = packet as ConnectPacket;
				c.connectProperties = parsed.properties;
			}
			if (c.serving) this.answer(c, packet);
			if (c.closed) return;
		}
		const error = c.decoder.error;
		if (error !== undefined) {
			this.problems.push(`connection #${c.index}: the client sent bytes that do not decode: ${error.message}`);
			this.end(c);
			return;
		}
		this.signal.notify();
	}

	/** What a broker answers to `packet`. */
	private answer(c: ScriptedConnection, packet: Packet): void {
		const ack = (type: number, id: number): void => this.write(c, Uint8Array.of(type << 4, 2, id >> 8, id & 0xFF));
		const quirks = c.quirks;
		if (quirks.closeOn?.(packet)) return this.end(c);
		switch (packet.type) {
			case PUBLISH:
				if (packet.qos === 1 || (packet.qos === 2 && quirks.qos2AsPuback)) ack(PUBACK, packet.packetId!);
				else if (packet.qos === 2) ack(PUBREC, packet.packetId!);
				return;
			case PUBREL: return ack(PUBCOMP, packet.packetId);
			case SUBSCRIBE: {
				const s = packet as SubscribePacket;
				const code = quirks.subackCode ?? ((_filter: string, qos: number): number => qos);
				this.write(c, packetBytes({ type: SUBACK, packetId: s.packetId, returnCodes: s.subscriptions.map((x) => code(x.filter, x.qos)) }, c.version));
				return;
			}
			case UNSUBSCRIBE: return this.write(c, packetBytes({ type: UNSUBACK, packetId: packet.packetId }, c.version));
			case PINGREQ: return this.write(c, Uint8Array.of(PINGRESP << 4, 0));
			default: return;
		}
	}

	private write(c: ScriptedConnection, bytes: Uint8Array): void {
		if (c.closed || c.socket.destroyed) return;
		c.socket.write(bytes);
		c.bytesSent += bytes.length;
	}

	private end(c: ScriptedConnection): void {
		if (!c.closedBy) {
			c.closedBy = "broker";
			c.closedAt = performance.now();
		}
		c.socket.destroy();
		this.signal.notify();
	}

	private wait(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const entry = {
				timer: setTimeout(() => {
					this.timers.delete(entry);
					resolve();
				}, ms),
				resolve,
			};
			this.timers.add(entry);
		});
	}

	private async play(c: ScriptedConnection): Promise<void> {
		try {
			await this.signal.until(() => c.connect !== undefined || c.closed || this.stopped, 5000, `CONNECT on connection #${c.index}`);
			for (const step of this.script(c.index)) {
				if (c.closed || this.stopped) return;
				switch (step.kind) {
					case "send":
						this.write(c, typeof step.bytes === "function" ? step.bytes(c) : step.bytes);
						break;
					case "delay":
						await this.wait(step.ms);
						break;
					case "until":
						await this.signal.until(() => step.condition(c) || c.closed || this.stopped, step.timeout, `${step.what} on connection #${c.index}`);
						break;
					case "dribble":
						for (let i = 0; !c.closed && !this.stopped && (step.forever || i < step.bytes.length); i++) {
							if (i > 0) await this.wait(step.every);
							this.write(c, Uint8Array.of(i < step.bytes.length ? step.bytes[i]! : step.filler));
						}
						break;
					case "close":
						this.end(c);
						return;
					case "serve":
						c.serving = true;
						c.quirks = step.quirks;
						break;
				}
			}
		}
		catch (error) {
			if (!this.stopped) this.problems.push(`connection #${c.index}: ${(error as Error).message}`);
		}
	}
}

/** The packet identifier of the last SUBSCRIBE the connection received (0 if none). */
export function lastSubscribeId(c: ScriptedConnection): number {
	const subs = c.ofType(SUBSCRIBE);
	return subs.length ? (subs[subs.length - 1]!.packet as SubscribePacket).packetId : 0;
}
