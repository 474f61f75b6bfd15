// An allocation-free scripted broker behind the Transport interface, with a ManualClock: it replays
// a byte script to the client (at once, in chunks, or dribbled in time) and counts closes.

import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength } from "../../modules/mqtt/remaining-length.js";
import type { ManualClock } from "./manual-clock.js";

const LOST = new MqttError(ErrorCode.CONNECTION_LOST, "the scripted broker closed the connection");

export class ScriptedTransport implements Transport {
	handler: TransportHandler | undefined;
	/** open() was called and the connection is not yet "accepted" (see `accept`). */
	opening = false;
	opens = 0;
	/** Connections the client closed (close() while open or opening). */
	closes = 0;
	/** Answer CONNECT with `reply` (a CONNACK, something hostile, or nothing when its length is 0). */
	readonly reply = new Uint8Array(64);
	replyLength = 0;
	/** Answer like a broker: PUBACK, PUBREC, PUBCOMP, SUBACK (granting QoS 1), PINGRESP. */
	acking = true;
	/** Answer a QoS 2 PUBLISH with PUBACK (RabbitMQ), and SUBSCRIBE with this return code. */
	qos2AsPuback = false;
	subackCode = 1;
	/** On the current connection: PUBLISH packets received, those with DUP, and their identifiers in order. */
	publishes = 0;
	dups = 0;
	readonly ids = new Uint16Array(256);
	idCount = 0;
	/** The identifier of the last SUBSCRIBE received, and how many came on this connection. */
	subscribeId = 0;
	subscribes = 0;
	bytesFromClient = 0;
	private readonly incoming = new Uint8Array(16_384);
	private head = 0;
	private tail = 0;

	constructor(readonly clock: ManualClock) {}

	open(_host: string, _port: number, _tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.handler = handler;
		this.opening = true;
		this.opens++;
		this.head = this.tail = this.rest = 0;
		this.publishes = this.dups = this.idCount = this.subscribes = 0;
	}

	/** The broker accepts the pending connection: onOpen, then whatever it answered to CONNECT. */
	accept(): void {
		if (!this.opening || !this.handler) throw new Error("no connection is opening");
		this.opening = false;
		this.handler.onOpen();
		this.deliver();
	}

	read(buffer: Uint8Array, offset: number, length: number): number {
		let n = this.tail - this.head;
		if (n > length) n = length;
		const q = this.incoming;
		for (let i = 0; i < n; i++) buffer[offset + i] = q[this.head + i]!;
		this.head += n;
		if (this.head === this.tail) this.head = this.tail = 0;
		return n;
	}

	/** Body bytes of the packet being written that have not come yet (a QoS 0 payload comes in a write of its own). */
	private rest = 0;

	/**
	 * Takes everything. A packet's fixed header, topic and identifier always come whole in its first
	 * write (the client sends a QoS 0 PUBLISH as header and topic, then the payload).
	 */
	write(buffer: Uint8Array, offset: number, length: number): number {
		const end = offset + length;
		let at = offset;
		if (this.rest > 0) {
			const n = this.rest < length ? this.rest : length;
			this.rest -= n;
			at += n;
		}
		while (at < end) {
			const first = buffer[at]!;
			const packed = readRemainingLength(buffer, at + 1, end);
			if (packed < 0) throw new Error("a fixed header split across writes");
			const value = packed & LENGTH_VALUE_MASK;
			const k = at + 1 + (packed >>> LENGTH_SIZE_SHIFT);
			const type = first >> 4;
			if (type === 1) {
				for (let i = 0; i < this.replyLength; i++) this.push(this.reply[i]!);
			}
			else if (type === 3) {
				const qos = (first >> 1) & 3;
				this.publishes++;
				if (first & 0x08) this.dups++;
				if (qos > 0) {
					const idAt = k + 2 + ((buffer[k]! << 8) | buffer[k + 1]!);
					const id = (buffer[idAt]! << 8) | buffer[idAt + 1]!;
					if (this.idCount < this.ids.length) this.ids[this.idCount++] = id;
					if (this.acking) this.ack(qos === 1 || this.qos2AsPuback ? 0x40 : 0x50, id);
				}
			}
			else if (type === 6) {
				if (this.acking) this.ack(0x70, (buffer[k]! << 8) | buffer[k + 1]!);
			}
			else if (type === 8) {
				this.subscribeId = (buffer[k]! << 8) | buffer[k + 1]!;
				this.subscribes++;
				if (this.acking) {
					this.push(0x90);
					this.push(3);
					this.push(this.subscribeId >> 8);
					this.push(this.subscribeId & 0xFF);
					this.push(this.subackCode);
				}
			}
			else if (type === 12) {
				if (this.acking) {
					this.push(0xD0);
					this.push(0);
				}
			}
			at = k + value;
			if (at > end) {
				this.rest = at - end;
				at = end;
			}
		}
		this.bytesFromClient += length;
		return length;
	}

	close(): void {
		if (this.handler) this.closes++;
		this.handler = undefined;
		this.opening = false;
		this.head = this.tail = this.rest = 0;
	}

	/** The broker drops the connection (the client hears CONNECTION_LOST). */
	drop(): void {
		const handler = this.handler;
		this.handler = undefined;
		this.opening = false;
		this.head = this.tail = 0;
		if (handler) handler.onClose(LOST);
	}

	/** Sets the answer to CONNECT from bytes [0, length) of `bytes`. */
	setReply(bytes: Uint8Array, length: number): void {
		for (let i = 0; i < length; i++) this.reply[i] = bytes[i]!;
		this.replyLength = length;
	}

	/** Queues bytes [start, end) of `bytes` for the client and hands them over. */
	inject(bytes: Uint8Array, start: number, end: number): void {
		for (let i = start; i < end; i++) this.push(bytes[i]!);
		this.deliver();
	}

	/** Hands what is queued to the client. */
	deliver(): void {
		for (let turns = 0; this.handler && !this.opening && this.tail > this.head; turns++) {
			if (turns > 100) throw new Error("the client stopped reading");
			this.handler.onReadable();
		}
	}

	/**
	 * Replays `script[0, length)`: `chunk` bytes at a time with the clock moved on `every` ms after
	 * each (0: no time passes). When the script runs out, `filler` bytes follow one per step forever
	 * (unless it is negative), or else time alone goes on passing. Stops as soon as the client closes
	 * the connection, or after `steps` steps; returns the bytes handed over.
	 */
	replay(script: Uint8Array, length: number, chunk: number, every: number, filler: number, steps: number): number {
		const closes = this.closes;
		let at = 0;
		for (let step = 0; step < steps && this.closes === closes; step++) {
			if (at < length) {
				const end = at + chunk < length ? at + chunk : length;
				this.inject(script, at, end);
				at = end;
			}
			else if (filler >= 0) {
				this.push(filler);
				this.deliver();
				at++;
			}
			else if (every === 0) break;
			if (this.closes !== closes) break;
			if (every > 0) this.clock.advance(every);
		}
		return at;
	}

	private ack(first: number, id: number): void {
		this.push(first);
		this.push(2);
		this.push(id >> 8);
		this.push(id & 0xFF);
	}

	private push(byte: number): void {
		if (this.tail === this.incoming.length) throw new Error("the scripted broker's queue is full");
		this.incoming[this.tail++] = byte;
	}
}
