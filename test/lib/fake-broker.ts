// A scripted MQTT broker that speaks bytes over a fake transport: decodes and records what a client
// writes, answers it as a broker would, and lets a test inject, withhold and cut. MQTT 3.1.1, or 5.0
// on a connection whose CONNECT says protocol level 5 (properties, reason codes, topic aliases from
// the client). Platform-free.

import { decodeUtf8 } from "../../modules/mqtt/utf8.js";
import { encode, encode5, propertyValues, serverReader, toPacket } from "./server-codec.js";
import type { Extras5, ServerPacketView } from "./server-codec.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";
import {
	CONNACK, CONNECT, DISCONNECT, PACKET_NAMES, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC,
	PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
} from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet, Payload, PublishPacket, QoS, Will } from "../../modules/mqtt/packet.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import type { PacketReader } from "../../modules/mqtt/reader.js";
import type { TimeBase } from "./manual-clock.js";

/** A packet on the wire, with when and on which connection (0-based, in opening order). */
export interface Logged {
	packet: Packet;
	at: number;
	connection: number;
	/** MQTT 5.0: the packet's properties (a CONNECT's are in `packet`), and its reason code where it has one. */
	properties?: PropertyValues;
	reasonCode?: number;
	/** MQTT 5.0 PUBLISH from the client: it came with an empty topic, as its alias (`packet.topic` is the topic the alias names). */
	asAlias?: boolean;
}

/** A message the broker holds as retained, or published as a last will. */
export interface Stored {
	topic: string;
	payload: string;
	qos: QoS;
}

export interface InjectOptions {
	qos?: QoS;
	retain?: boolean;
	dup?: boolean;
	/** Default: the broker's next identifier (QoS 1/2). */
	packetId?: number;
	/** MQTT 5.0 message properties (a Response Topic, Correlation Data, ...); on a 5.0 connection only. */
	properties?: PropertyValues;
}

/** MQTT 5.0 CONNACK reason codes for the 3.1.1 return codes 1..5 (5.0 §3.2.2.2). */
const CONNACK_REASON_5 = [0, 0x84, 0x85, 0x88, 0x86, 0x87];
/** MQTT 5.0 DISCONNECT 0x04: Disconnect with Will Message (the will is published all the same). */
const DISCONNECT_WITH_WILL = 0x04;

/** One connection a client opened (through a BrokerTransport). */
export class Connection {
	handler: TransportHandler | undefined;
	/** The transport is up (accepted) and not yet closed by either side. */
	open = false;
	/** CONNECT accepted with CONNACK 0. */
	connected = false;
	/** DISCONNECT received: the will is discarded. */
	disconnected = false;
	connect: ConnectPacket | undefined;
	readonly incoming: number[] = [];
	/** 4, or 5 once the CONNECT says protocol level 5. */
	version: 4 | 5 = 4;
	/** Made once the CONNECT's protocol level is known (the bytes before wait in `head`). */
	reader: PacketReader | undefined;
	readonly head: number[] = [];
	/** MQTT 5.0: the topic aliases the client set, alias → topic. */
	readonly aliases = new Map<number, string>();
	/** QoS 2 identifiers the client sent PUBLISH for and not yet PUBREL. */
	readonly inboundQos2 = new Set<number>();
	closedBy: "client" | "broker" | undefined;
	constructor(readonly index: number, readonly transport: BrokerTransport, readonly host: string, readonly port: number, readonly tls: TlsOptions | undefined, readonly openedAt: number) {}
}

/** The client's side of a connection to the fake broker. */
export class BrokerTransport implements Transport {
	/** Bytes the next writes may take in total (Infinity: all); see `unblock`. */
	writeRoom = Infinity;
	current: Connection | undefined;
	closes = 0;
	constructor(readonly broker: FakeBroker) {}

	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.current = this.broker.opened(this, host, port, tls, handler);
	}
	read(buffer: Uint8Array, offset: number, length: number): number {
		const c = this.current;
		if (!c || !c.open) return 0;
		const n = Math.min(length, c.incoming.length);
		for (let i = 0; i < n; i++) buffer[offset + i] = c.incoming[i]!;
		c.incoming.splice(0, n);
		return n;
	}
	write(buffer: Uint8Array, offset: number, length: number): number {
		const c = this.current;
		if (!c || !c.open) throw new Error("the client wrote to a transport that is not open");
		const n = Math.min(length, this.writeRoom);
		if (n <= 0) return 0;
		this.writeRoom -= n;
		this.broker.bytesFromClient(c, buffer, offset, n);
		return n;
	}
	close(): void {
		this.closes++;
		const c = this.current;
		this.current = undefined;
		if (c) this.broker.closedByClient(c);
	}
	/** Room to write again after backpressure; tells the client. */
	unblock(room = Infinity): void {
		this.writeRoom = room;
		const c = this.current;
		if (c && c.open) c.handler!.onWritable();
	}
}

export class FakeBroker {
	// ---- what it does (a test may change these at any time) ----
	/** Accept a transport as soon as it opens (else the test calls `accept()`); false: it stays opening. */
	autoAccept = true;
	/** Refuse connections at the transport level (CONNECTION_REFUSED). */
	refuse = false;
	/** Answer CONNECT with CONNACK. */
	answerConnect = true;
	sessionPresent = false;
	connackCode = 0;
	/** Answer PINGREQ with PINGRESP. */
	answerPings = true;
	/** The SUBACK return code for a filter (default: the QoS asked for). */
	grant: (filter: string, qos: QoS) => number = (_filter, qos) => qos;
	/**
	 * Withhold the acknowledgement (PUBACK, or PUBREC for QoS 2) of the client's PUBLISHes: all of
	 * them, or those the function picks. Withheld ones wait in `held` until `release()`.
	 */
	holdAcks: boolean | ((p: PublishPacket) => boolean) = false;
	/** MQTT 5.0: the properties of the CONNACK (default: a Topic Alias Maximum of 10, as mosquitto's). */
	connackProperties: PropertyValues = { topicAliasMaximum: 10 };
	/** MQTT 5.0: the reason code acknowledging the client's PUBLISH (default 0, success; 0x87 Not authorized, ...). */
	ackReason: (p: PublishPacket) => number = () => 0;

	// ---- what it saw ----
	readonly connections: Connection[] = [];
	/** Every packet the client wrote, in order. */
	readonly received: Logged[] = [];
	/** Every packet the broker sent. */
	readonly sent: Logged[] = [];
	/** Acknowledgements withheld (see `holdAcks`), oldest first. */
	readonly held: Array<{ connection: Connection; packet: Packet; extras?: Extras5 }> = [];
	/** Retained messages, as a broker would keep them (wills included). */
	readonly retained = new Map<string, Stored>();
	/** Last wills published because a connection ended without DISCONNECT. */
	readonly wills: Stored[] = [];
	/** Malformed bytes from the client (the connection was then cut). */
	readonly errors: string[] = [];
	/** The next identifier `inject` uses. */
	nextId = 1;
	private cursor = 0;

	constructor(readonly time: TimeBase) {}

	/** A transport for a client (each client takes its own; every `open` is a new connection). */
	transport(): BrokerTransport {
		return new BrokerTransport(this);
	}

	/** The most recent connection, or undefined before any. */
	get current(): Connection | undefined {
		return this.connections[this.connections.length - 1];
	}

	// ---- the test's side ----

	/** Accepts the current connection's transport (when `autoAccept` is off). */
	accept(connection = this.current): void {
		if (!connection || connection.open || connection.closedBy) throw new Error("no connection waiting to be accepted");
		connection.open = true;
		connection.handler!.onOpen();
	}

	/** Sends a PUBLISH to the client on the current connection (delivered when time runs); returns its identifier (0 for QoS 0). */
	inject(topic: string, payload: Payload, options: InjectOptions = {}): number {
		const qos = options.qos ?? 0;
		let packetId: number | undefined;
		if (qos > 0) {
			packetId = options.packetId ?? this.nextId;
			if (options.packetId === undefined) this.nextId = this.nextId === 65_535 ? 1 : this.nextId + 1;
		}
		const c = this.live();
		if (options.properties && c.version !== 5) throw new Error("message properties need an MQTT 5.0 connection");
		this.send(c, { type: PUBLISH, topic, payload, qos, retain: options.retain ?? false, dup: options.dup ?? false, packetId }, { properties: options.properties });
		return packetId ?? 0;
	}

	/** Sends any packet to the client (for protocol tests). */
	sendPacket(packet: Packet): void {
		this.send(this.live(), packet);
	}

	/** Raw bytes to the client. */
	sendBytes(bytes: Uint8Array): void {
		const c = this.live();
		this.time.defer(() => this.deliver(c, bytes));
	}

	/** Sends the withheld acknowledgements (the oldest `count`, default all). */
	release(count = Infinity): void {
		const n = Math.min(count, this.held.length);
		for (const h of this.held.splice(0, n)) if (h.connection.open) this.send(h.connection, h.packet, h.extras);
	}

	/** The broker drops the connection (the client hears CONNECTION_LOST); the will is published. */
	cut(error = new MqttError(ErrorCode.CONNECTION_LOST, "the fake broker cut the connection")): void {
		const c = this.current;
		if (!c || c.closedBy) throw new Error("no connection to cut");
		this.end(c, "broker");
		const h = c.handler;
		c.handler = undefined;
		h?.onClose(error);
	}

	// ---- reading the log ----

	/** Packets the client wrote since the last `take()` (or since the start). */
	take(): Logged[] {
		const out = this.received.slice(this.cursor);
		this.cursor = this.received.length;
		return out;
	}

	/** Every packet of `type` the client wrote. */
	ofType(type: number): Logged[] {
		return this.received.filter((l) => l.packet.type === type);
	}

	/** Every PUBLISH the client wrote (to `topic`, when given). */
	publishes(topic?: string): PublishPacket[] {
		const out: PublishPacket[] = [];
		for (const l of this.received) {
			const p = l.packet;
			if (p.type === PUBLISH && (topic === undefined || p.topic === topic)) out.push(p);
		}
		return out;
	}

	/** The packets the client wrote as short names ("PUBLISH devices/d1/status q1 r", "PUBACK 3"). */
	names(log: Logged[] = this.received): string[] {
		return log.map((l) => describePacket(l.packet));
	}

	// ---- the broker's side ----

	/** @internal A client's transport opens. */
	opened(transport: BrokerTransport, host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): Connection {
		const c = new Connection(this.connections.length, transport, host, port, tls, this.time.now());
		c.handler = handler;
		this.connections.push(c);
		if (this.refuse) {
			c.closedBy = "broker";
			this.time.defer(() => handler.onClose(new MqttError(ErrorCode.CONNECTION_REFUSED, "the fake broker refuses connections")));
		}
		else if (this.autoAccept) this.time.defer(() => {
			if (!c.open && !c.closedBy) this.accept(c);
		});
		return c;
	}

	/** @internal Bytes the client wrote. */
	bytesFromClient(c: Connection, buffer: Uint8Array, offset: number, length: number): void {
		const reader = c.reader ?? this.readerFor(c, buffer, offset, length);
		if (!reader) return;
		let at = offset;
		const end = offset + length;
		while (at < end) {
			at += reader.feed(buffer, at, end - at);
			for (;;) {
				let logged: Logged;
				try {
					if (!reader.next()) break;
					logged = this.log(c, reader.view as ServerPacketView);
				}
				catch (error) {
					this.protocolError(c, String((error as Error)?.message ?? error));
					return;
				}
				this.received.push(logged);
				this.handle(c, logged);
			}
		}
	}

	/**
	 * The reader for a connection, once its first bytes show the CONNECT's protocol level (until then
	 * they wait in `head`, and undefined is returned); it takes `head` first.
	 */
	private readerFor(c: Connection, buffer: Uint8Array, offset: number, length: number): PacketReader | undefined {
		const head = c.head;
		for (let i = 0; i < length; i++) head.push(buffer[offset + i]!);
		if (head.length === 0) return undefined;
		// CONNECT: its first byte, 1..4 bytes of remaining length, "\0\4MQTT", then the level.
		let i = 1;
		while (i < head.length && i < 4 && (head[i]! & 0x80) !== 0) i++;
		const levelAt = i + 7;
		if ((head[0]! >> 4) === CONNECT && head.length <= levelAt) return undefined;
		c.version = (head[0]! >> 4) === CONNECT && head[levelAt] === 5 ? 5 : 4;
		c.reader = serverReader(8_192, c.version);
		const bytes = Uint8Array.from(head.splice(0, head.length));
		// Taken here, so that what follows is read by the new reader.
		this.bytesFromClient(c, bytes, 0, bytes.length);
		return undefined;
	}

	/** A packet the client wrote, as logged; MQTT 5.0: its properties, and the topic its alias names. */
	private log(c: Connection, view: ServerPacketView): Logged {
		const packet = toPacket(view, c.version);
		const logged: Logged = { packet, at: this.time.now(), connection: c.index };
		if (c.version !== 5 || packet.type === CONNECT) return logged;
		const properties = propertyValues(view.properties);
		logged.properties = properties;
		logged.reasonCode = view.reasonCode;
		const alias = properties.topicAlias;
		if (packet.type === PUBLISH && alias !== undefined) {
			const maximum = this.connackProperties.topicAliasMaximum ?? 0;
			if (alias === 0 || alias > maximum) throw new Error(`topic alias ${alias} is not within 1..${maximum}`);
			if (packet.topic !== "") c.aliases.set(alias, packet.topic);
			else {
				const topic = c.aliases.get(alias);
				if (topic === undefined) throw new Error(`topic alias ${alias} was used before it was set`);
				packet.topic = topic;
				logged.asAlias = true;
			}
		}
		return logged;
	}

	/** Bytes the client should not have sent: noted, and the connection cut. */
	private protocolError(c: Connection, message: string): void {
		this.errors.push(message);
		this.time.defer(() => { if (!c.closedBy) this.cutConnection(c); });
	}

	/** @internal The client closed its transport. */
	closedByClient(c: Connection): void {
		if (c.closedBy) return;
		this.end(c, "client");
	}

	private handle(c: Connection, logged: Logged): void {
		const p = logged.packet;
		const v5 = c.version === 5;
		switch (p.type) {
			case CONNECT:
				c.connect = p;
				if (!this.answerConnect) return;
				this.send(c, { type: CONNACK, sessionPresent: this.connackCode === 0 && this.sessionPresent, returnCode: v5 ? CONNACK_REASON_5[this.connackCode] ?? this.connackCode : this.connackCode },
					{ properties: this.connackProperties });
				if (this.connackCode === 0) c.connected = true;
				else this.time.defer(() => { if (!c.closedBy) this.cutConnection(c); });
				return;
			case PUBLISH: {
				if (p.retain) this.retain(p.topic, p.payload, p.qos);
				if (p.qos === 0) return;
				if (p.qos === 2) c.inboundQos2.add(p.packetId!);
				const ack: Packet = { type: p.qos === 1 ? PUBACK : PUBREC, packetId: p.packetId! };
				const extras: Extras5 = { reasonCode: v5 ? this.ackReason(p) : 0 };
				const hold = typeof this.holdAcks === "function" ? this.holdAcks(p) : this.holdAcks;
				if (hold) this.held.push({ connection: c, packet: ack, extras });
				else this.send(c, ack, extras);
				return;
			}
			case PUBREL:
				c.inboundQos2.delete(p.packetId);
				this.send(c, { type: PUBCOMP, packetId: p.packetId });
				return;
			case PUBREC:
				// The client received our QoS 2 PUBLISH: release it.
				this.send(c, { type: PUBREL, packetId: p.packetId });
				return;
			case PUBACK:
			case PUBCOMP:
				return;
			case SUBSCRIBE:
				this.send(c, { type: SUBACK, packetId: p.packetId, returnCodes: p.subscriptions.map((s) => this.grant(s.filter, s.qos)) });
				return;
			case UNSUBSCRIBE:
				this.send(c, { type: UNSUBACK, packetId: p.packetId }, { codes: p.filters.map(() => 0) });
				return;
			case PINGREQ:
				if (this.answerPings) this.send(c, { type: PINGRESP });
				return;
			case DISCONNECT:
				c.disconnected = logged.reasonCode !== DISCONNECT_WITH_WILL;
				return;
			default:
				this.errors.push(`a client must not send ${PACKET_NAMES[p.type]}`);
		}
	}

	private retain(topic: string, payload: Payload, qos: QoS): void {
		const text = payloadText(payload);
		if (text === "") this.retained.delete(topic);
		else this.retained.set(topic, { topic, payload: text, qos });
	}

	/** The connection ends (either side): a will is published unless DISCONNECT came first. */
	private end(c: Connection, by: "client" | "broker"): void {
		c.closedBy = by;
		const wasConnected = c.connected;
		c.open = false;
		c.connected = false;
		const will: Will | undefined = c.connect?.will;
		if (wasConnected && !c.disconnected && will) {
			const stored: Stored = { topic: will.topic, payload: payloadText(will.payload), qos: will.qos };
			this.wills.push(stored);
			if (will.retain) this.retain(will.topic, will.payload, will.qos);
		}
	}

	private cutConnection(c: Connection): void {
		this.end(c, "broker");
		const h = c.handler;
		c.handler = undefined;
		h?.onClose(new MqttError(ErrorCode.CONNECTION_LOST, "the fake broker closed the connection"));
	}

	private live(): Connection {
		const c = this.current;
		if (!c || !c.open) throw new Error("no open connection to send on");
		return c;
	}

	/** Sends a packet; on a 5.0 connection with `extras` (properties, reason codes), ignored on 3.1.1. */
	private send(c: Connection, packet: Packet, extras: Extras5 = {}): void {
		const buffer = new Uint8Array(70_000);
		const n = c.version === 5 ? encode5(packet, buffer, 0, extras) : encode(packet, buffer, 0);
		const logged: Logged = { packet, at: this.time.now(), connection: c.index };
		if (c.version === 5 && extras.properties) logged.properties = extras.properties;
		this.sent.push(logged);
		const bytes = buffer.slice(0, n);
		this.time.defer(() => this.deliver(c, bytes));
	}

	private deliver(c: Connection, bytes: Uint8Array): void {
		if (!c.open || !c.handler) return; // the connection ended meanwhile: lost in flight
		for (let i = 0; i < bytes.length; i++) c.incoming.push(bytes[i]!);
		c.handler.onReadable();
	}
}

/** A payload as text (UTF-8; invalid bytes become U+FFFD). */
export function payloadText(payload: Payload): string {
	if (typeof payload === "string") return payload;
	const bytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
	return decodeUtf8(bytes, 0, bytes.length);
}

/** A packet in a few words: "PUBLISH t q1 r d #3 <payload>", "PUBACK 3", "SUBSCRIBE 1 a/+ q1". */
export function describePacket(p: Packet): string {
	switch (p.type) {
		case PUBLISH:
			return `PUBLISH ${p.topic} q${p.qos}${p.retain ? " retain" : ""}${p.dup ? " dup" : ""}`;
		case PUBACK: case PUBREC: case PUBREL: case PUBCOMP: case UNSUBACK:
			return `${PACKET_NAMES[p.type]} ${p.packetId}`;
		case SUBSCRIBE:
			return `SUBSCRIBE ${p.subscriptions.map((s) => `${s.filter} q${s.qos}`).join(", ")}`;
		case SUBACK:
			return `SUBACK ${p.packetId} ${p.returnCodes.join(",")}`;
		case CONNECT:
			return `CONNECT ${p.clientId}`;
		case CONNACK:
			return `CONNACK ${p.returnCode}${p.sessionPresent ? " present" : ""}`;
		default:
			return PACKET_NAMES[p.type];
	}
}
