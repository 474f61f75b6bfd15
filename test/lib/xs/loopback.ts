// An allocation-free scripted broker for measuring the client inside XS: it answers each QoS 1
// PUBLISH it is given with PUBACK, and can replay one inbound frame as often as asked.

import type { TlsOptions, Transport, TransportHandler } from "../../../modules/mqtt/host.js";
import { Property } from "../../../modules/mqtt/properties.js";

export class LoopbackBroker implements Transport {
	handler: TransportHandler | undefined;
	protected readonly incoming = new Uint8Array(4096);
	private readHead = 0;
	protected readTail = 0;
	bytesWritten = 0;
	acksQueued = 0;
	/** Answer each QoS 1 PUBLISH with PUBACK (default); off, the messages stay in flight. */
	acking = true;

	open(_host: string, _port: number, _tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.handler = handler;
	}
	read(buffer: Uint8Array, offset: number, length: number): number {
		const frame = this.frame;
		if (frame !== undefined && frame.length <= length) {
			// A socket hands its bytes over with a native copy: so does this (no per-byte loop counted as ours).
			buffer.set(frame, offset);
			this.frame = undefined;
			return frame.length;
		}
		if (frame !== undefined) this.spill();
		let n = this.readTail - this.readHead;
		if (n > length) n = length;
		for (let i = 0; i < n; i++) buffer[offset + i] = this.incoming[this.readHead + i]!;
		this.readHead += n;
		if (this.readHead === this.readTail) this.readHead = this.readTail = 0;
		return n;
	}
	/** Body bytes of the packet being written that have not arrived yet (writes may split packets). */
	private rest = 0;

	/**
	 * Takes the client's bytes; queues PUBACK for each QoS 1 PUBLISH and CONNACK for CONNECT. A
	 * packet may come in several writes (the fixed header, and for QoS 1 the topic and identifier,
	 * always in the first, as the client writes them).
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
			let value = 0;
			let multiplier = 1;
			let k = at + 1;
			for (;;) {
				const b = buffer[k++]!;
				value += (b & 0x7F) * multiplier;
				if (!(b & 0x80)) break;
				multiplier *= 128;
			}
			const type = first >> 4;
			if (type === 1) this.connack();
			else if (type === 3 && ((first >> 1) & 3) === 1 && this.acking) {
				const topicLength = (buffer[k]! << 8) | buffer[k + 1]!;
				const id = k + 2 + topicLength;
				this.queue(0x40, buffer[id]!, buffer[id + 1]!);
			}
			const packetEnd = k + value;
			if (packetEnd > end) {
				this.rest = packetEnd - end;
				at = end;
			}
			else at = packetEnd;
		}
		this.bytesWritten += length;
		return length;
	}
	close(): void {
		this.handler = undefined;
	}
	/** Queues CONNACK (3.1.1: session not present, accepted). */
	protected connack(): void {
		this.queue(0x20, 0, 0);
	}
	/** Queues a four-byte packet: CONNACK, or PUBACK for identifier (a << 8) | b. */
	protected queue(first: number, a: number, b: number): void {
		const q = this.incoming;
		q[this.readTail] = first;
		q[this.readTail + 1] = 2;
		q[this.readTail + 2] = a;
		q[this.readTail + 3] = b;
		this.readTail += 4;
		this.acksQueued++;
	}
	/**
	 * Puts bytes [0, length) of `frame` in the receive queue: by reference when it is exactly that long
	 * and nothing else waits (read then copies it natively), else copied into the queue.
	 */
	inject(frame: Uint8Array, length: number): void {
		if (length === frame.length && this.frame === undefined && this.readTail === this.readHead) {
			this.frame = frame;
			return;
		}
		if (this.frame !== undefined) this.spill();
		for (let i = 0; i < length; i++) this.incoming[this.readTail + i] = frame[i]!;
		this.readTail += length;
	}
	/** An injected frame held by reference, not yet read. */
	private frame: Uint8Array | undefined = undefined;
	/** Moves the frame held by reference into the queue (a read too short for it, or more injected behind it). */
	private spill(): void {
		const frame = this.frame!;
		this.frame = undefined;
		for (let i = 0; i < frame.length; i++) this.incoming[this.readTail + i] = frame[i]!;
		this.readTail += frame.length;
	}
	/** Hands what is queued to the client. */
	deliver(): void {
		if (this.frame !== undefined || this.readTail > this.readHead) this.handler!.onReadable();
	}
}

/**
 * The same for an MQTT 5.0 client: CONNACK with a property block (Topic Alias Maximum
 * `topicAliasMaximum`), and PUBACKs with `pubackReason` (5 bytes) unless it is 0 (success, 4 bytes).
 */
export class LoopbackBroker5 extends LoopbackBroker {
	private readonly connack5: Uint8Array;
	constructor(topicAliasMaximum: number, readonly pubackReason: number) {
		super();
		this.connack5 = Uint8Array.of(0x20, 6, 0, 0, 3, Property.TOPIC_ALIAS_MAXIMUM, topicAliasMaximum >> 8, topicAliasMaximum & 0xFF);
	}
	protected override connack(): void {
		this.inject(this.connack5, this.connack5.length);
	}
	protected override queue(first: number, a: number, b: number): void {
		if (this.pubackReason === 0) return super.queue(first, a, b);
		const q = this.incoming;
		const at = this.readTail;
		q[at] = first;
		q[at + 1] = 3;
		q[at + 2] = a;
		q[at + 3] = b;
		q[at + 4] = this.pubackReason;
		this.readTail = at + 5;
		this.acksQueued++;
	}
}

/**
 * A transport doing what the SDK comparison's socket stub does: it counts the bytes written (no
 * parsing, unlike the loopback broker) and hands over whole staged packets when the driver says so.
 */
export class CountingTransport implements Transport {
	handler: TransportHandler | undefined;
	bytesWritten = 0;
	private staged: Uint8Array | undefined;

	open(_host: string, _port: number, _tls: TlsOptions | undefined, handler: TransportHandler): void {
		this.handler = handler;
	}
	read(buffer: Uint8Array, offset: number, length: number): number {
		const staged = this.staged;
		if (staged === undefined || staged.length > length) return 0;
		this.staged = undefined;
		buffer.set(staged, offset);
		return staged.length;
	}
	write(_buffer: Uint8Array, _offset: number, length: number): number {
		this.bytesWritten += length;
		return length;
	}
	close(): void {
		this.handler = undefined;
	}
	/** Hands `bytes` (whole packets) to the client. */
	receive(bytes: Uint8Array): void {
		this.staged = bytes;
		this.handler!.onReadable();
	}
}
