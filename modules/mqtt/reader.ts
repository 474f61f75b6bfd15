// Incremental framing: bytes arrive in chunks of any size into one fixed receive buffer, and come
// out as PacketViews. A PUBLISH larger than the buffer is drained and reported, never allocated.

import { ErrorCode, MqttError } from "./errors.js";
import { checkFirstByte, checkPublishTopic, checkRemainingLength, parseBody, PacketView } from "./decode.js";
import type { BodyParser } from "./decode.js";
import {
	DUP_FLAG, FLAGS_MASK, PINGRESP_HEADER, PUBACK_HEADER, PUBCOMP_HEADER, PUBLISH, PUBREC_HEADER, PUBREL_HEADER,
	QOS_BITS, QOS_SHIFT, RETAIN_FLAG, TYPE_SHIFT, UNSUBACK_HEADER,
} from "./constants.js";
import type { QoS } from "./packet.js";
import { checkFirstByte5 } from "./decode5.js";
import { MALFORMED_PACKET } from "./properties.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength } from "./remaining-length.js";

/** The smallest receive buffer: a fixed header (5) and the start of a PUBLISH body. */
export const MIN_RECEIVE_BUFFER = 16;

/** MQTT 5.0 reason code 0x95, Packet too large. */
const PACKET_TOO_LARGE_REASON = 0x95;

/** Where `fill` reads from: a transport. */
export interface ByteSource {
	read(buffer: Uint8Array, offset: number, length: number): number;
}

export class PacketReader {
	/** The receive buffer; bytes are written at [writeOffset, writeOffset + space()). */
	readonly buffer: Uint8Array;
	/** The packet most recently returned by `next()`. */
	view: PacketView;
	private parse: BodyParser;
	private start = 0;
	private end = 0;
	/** Body bytes of an oversize PUBLISH still to discard. */
	private drain = 0;
	// An oversize PUBLISH whose topic did not fit: the bytes still to skip, then its identifier.
	private skipTopic = 0;
	private idBytesNeeded = 0;
	private id = 0;
	private oversizeFirstByte = 0;
	private oversizeRest = 0;

	/**
	 * `parse` and `view`: the client half of the codec, unless a tool (a test broker) brings the broker
	 * half. `version` 5 frames MQTT 5.0 (with decode5.ts's parseBody5 and a PacketView5): AUTH is a
	 * packet, acknowledgements vary in length, and no packet may exceed the buffer (the client tells
	 * the broker its Maximum Packet Size).
	 */
	constructor(size: number, parse: BodyParser = parseBody, view: PacketView = new PacketView(), public version: 4 | 5 = 4) {
		if (!(size >= MIN_RECEIVE_BUFFER))
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, `the receive buffer must be at least ${MIN_RECEIVE_BUFFER} bytes`);
		this.buffer = new Uint8Array(size);
		this.parse = parse;
		this.view = view;
	}

	/** Frames `version` from now on, with `parse` and `view` (a client that fell back from 5.0 to 3.1.1). */
	use(version: 4 | 5, parse: BodyParser, view: PacketView): void {
		this.version = version;
		this.parse = parse;
		this.view = view;
		this.reset();
	}

	/** Forgets everything buffered (a new connection starts from a clean frame boundary). */
	reset(): void {
		this.start = this.end = 0;
		this.drain = this.skipTopic = this.idBytesNeeded = this.oversizeFirstByte = 0;
	}

	/** Bytes buffered and not yet returned as packets. */
	get buffered(): number {
		return this.end - this.start;
	}

	/** Makes room at the end of the buffer and returns how many bytes fit at `writeOffset`. */
	space(): number {
		if (this.start === this.end)
			this.start = this.end = 0;
		else if (this.start > 0) {
			this.buffer.copyWithin(0, this.start, this.end);
			this.end -= this.start;
			this.start = 0;
		}
		return this.buffer.length - this.end;
	}

	/** Where the next bytes go; call `space()` first. */
	get writeOffset(): number {
		return this.end;
	}

	/** Accounts for `count` bytes written at `writeOffset`. */
	commit(count: number): void {
		this.end += count;
	}

	/**
	 * Reads from `source` (a transport) into the free space at the end of the buffer; returns how
	 * many bytes came (0: none now).
	 */
	fill(source: ByteSource): number {
		if (this.start === this.end) this.start = this.end = 0;
		else if (this.start > 0) this.space();
		const n = source.read(this.buffer, this.end, this.buffer.length - this.end);
		if (n > 0) this.end += n;
		return n;
	}

	/** Copies as many of `bytes[offset, offset + length)` as fit; returns how many it took. */
	feed(bytes: Uint8Array, offset: number, length: number): number {
		const room = this.space();
		const count = length < room ? length : room;
		if (offset === 0 && count === bytes.length) this.buffer.set(bytes, this.end);
		else for (let i = 0; i < count; i++) this.buffer[this.end + i] = bytes[offset + i]!;
		this.end += count;
		return count;
	}

	/**
	 * Parses the next complete packet into `view` and returns true, or returns false when more bytes
	 * are needed. Throws MqttError when the stream is malformed; the connection must then be closed.
	 */
	next(): boolean {
		if (this.drain > 0 || this.skipTopic > 0 || this.idBytesNeeded > 0) {
			if (this.streamOversize()) return true;
			if (this.start === this.end) return false;
		}
		const buffer = this.buffer;
		const start = this.start;
		const available = this.end - start;
		if (available === 0) return false;
		const first = buffer[start]!;
		// Fast path for the most frequent small packets, with the same checks as the general one:
		// PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP, UNSUBACK (length 2, identifier not 0), PINGRESP.
		if (this.version === 5) return this.next5(first, start, available);
		if (available >= 2 && (first === PUBACK_HEADER || first === PUBREC_HEADER || first === PUBREL_HEADER || first === PUBCOMP_HEADER || first === UNSUBACK_HEADER || first === PINGRESP_HEADER)) {
			const second = buffer[start + 1]!;
			if (first === PINGRESP_HEADER ? second === 0 : second === 2) {
				if (first === PINGRESP_HEADER) return this.small(first, start, 2, 0);
				if (available < 4) return false;
				const id = (buffer[start + 2]! << 8) | buffer[start + 3]!;
				if (id !== 0) return this.small(first, start, 4, id);
			}
		}
		checkFirstByte(first);
		const packed = readRemainingLength(buffer, start + 1, this.end);
		if (packed < 0) return false;
		const length = packed & LENGTH_VALUE_MASK;
		const headerSize = 1 + (packed >>> LENGTH_SIZE_SHIFT);
		checkRemainingLength(first >> TYPE_SHIFT, first & FLAGS_MASK, length);
		const total = headerSize + length;
		if (total > buffer.length) {
			if ((first >> TYPE_SHIFT) !== PUBLISH)
				throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a packet of ${total} bytes does not fit the ${buffer.length}-byte receive buffer (only PUBLISH may be larger)`);
			return this.beginOversize(first, headerSize, length);
		}
		if (available < total) return false;
		this.parse(this.view, first, buffer, start + headerSize, start + total);
		this.start = start + total;
		return true;
	}

	/** `next` for MQTT 5.0: the whole packet is framed, then decode5.ts checks and takes it apart. */
	private next5(first: number, start: number, available: number): boolean {
		checkFirstByte5(first);
		const buffer = this.buffer;
		let packed: number;
		try {
			packed = readRemainingLength(buffer, start + 1, this.end);
		}
		catch (error) {
			(error as MqttError).reasonCode = MALFORMED_PACKET;
			throw error;
		}
		if (packed < 0) return false;
		const headerSize = 1 + (packed >>> LENGTH_SIZE_SHIFT);
		const total = headerSize + (packed & LENGTH_VALUE_MASK);
		if (total > buffer.length) {
			// Larger than the Maximum Packet Size the client announced: the broker broke the rule (5.0 §3.1.2.11.4).
			const error = new MqttError(ErrorCode.PACKET_TOO_LARGE, `a packet of ${total} bytes is larger than the ${buffer.length}-byte receive buffer (the Maximum Packet Size announced)`);
			error.reasonCode = PACKET_TOO_LARGE_REASON;
			throw error;
		}
		if (available < total) return false;
		this.parse(this.view, first, buffer, start + headerSize, start + total);
		this.start = start + total;
		return true;
	}

	/** Fills the view for a fixed-size packet already checked by the fast path of `next`. */
	private small(first: number, start: number, size: number, id: number): boolean {
		const view = this.view;
		view.type = first >> TYPE_SHIFT;
		view.flags = first & FLAGS_MASK;
		view.buffer = this.buffer;
		view.bodyStart = start + 2;
		view.bodyEnd = start + size;
		view.packetId = id;
		view.oversize = false;
		this.start = start + size;
		return true;
	}

	/** A PUBLISH larger than the buffer: report it from what fits, then discard the rest. */
	private beginOversize(first: number, headerSize: number, length: number): boolean {
		const buffer = this.buffer;
		const bodyStart = this.start + headerSize;
		const bodyAvailable = this.end - bodyStart;
		const qos = ((first >> 1) & 3) as QoS;
		const idBytes = qos > 0 ? 2 : 0;
		const full = this.start === 0 && this.end === buffer.length;
		if (bodyAvailable < 2) {
			if (full) throw new MqttError(ErrorCode.PACKET_TOO_LARGE, "receive buffer too small for a PUBLISH header");
			return false;
		}
		const topicLength = (buffer[bodyStart]! << 8) | buffer[bodyStart + 1]!;
		const variableHeader = 2 + topicLength + idBytes;
		if (variableHeader > length)
			throw new MqttError(ErrorCode.LENGTH_MISMATCH, `PUBLISH topic name of ${topicLength} bytes runs past the remaining length`);
		if (bodyAvailable >= variableHeader) {
			const view = this.view;
			parseOversizeHeader(view, first, buffer, bodyStart, topicLength);
			view.payloadStart = bodyStart + variableHeader;
			view.payloadEnd = this.end;
			view.payloadLength = length - variableHeader;
			this.drain = length - bodyAvailable;
			this.start = this.end;
			return true;
		}
		if (!full) return false;
		// The variable header is larger than the buffer: skip the topic, keep only the identifier.
		// When the topic fits but not the whole identifier, its first byte is already buffered:
		// leave it there for streamOversize rather than skipping it.
		const topicEnd = bodyStart + 2 + topicLength;
		this.oversizeFirstByte = first;
		this.skipTopic = topicEnd > this.end ? topicEnd - this.end : 0;
		this.idBytesNeeded = idBytes;
		this.id = 0;
		this.oversizeRest = length - variableHeader;
		this.start = topicEnd < this.end ? topicEnd : this.end;
		return false;
	}

	/** Consumes bytes of an oversize PUBLISH; returns true when it completes a report in `view`. */
	private streamOversize(): boolean {
		const buffer = this.buffer;
		if (this.skipTopic > 0) {
			const n = Math.min(this.skipTopic, this.end - this.start);
			this.start += n;
			this.skipTopic -= n;
			if (this.skipTopic > 0) return false;
		}
		while (this.idBytesNeeded > 0) {
			if (this.start === this.end) return false;
			this.id = (this.id << 8) | buffer[this.start++]!;
			if (--this.idBytesNeeded === 0 && this.id === 0)
				throw new MqttError(ErrorCode.ZERO_PACKET_ID, "PUBLISH has packet identifier 0, which is never valid");
		}
		if (this.oversizeFirstByte !== 0) {
			const view = this.view;
			const first = this.oversizeFirstByte;
			this.oversizeFirstByte = 0;
			fillOversize(view, first, buffer);
			view.packetId = this.id;
			view.topicStart = view.topicEnd = 0;
			view.payloadStart = view.payloadEnd = 0;
			view.payloadLength = this.oversizeRest;
			this.drain = this.oversizeRest;
			return true;
		}
		const n = Math.min(this.drain, this.end - this.start);
		this.start += n;
		this.drain -= n;
		return false;
	}
}

function fillOversize(view: PacketView, first: number, buffer: Uint8Array): void {
	view.type = PUBLISH;
	view.flags = first & FLAGS_MASK;
	view.buffer = view.topicBuffer = buffer;
	view.qos = ((first >> QOS_SHIFT) & QOS_BITS) as QoS;
	view.dup = (first & DUP_FLAG) !== 0;
	view.retain = (first & RETAIN_FLAG) !== 0;
	view.oversize = true;
	view.packetId = 0;
	view.bodyStart = view.bodyEnd = 0;
}

function parseOversizeHeader(view: PacketView, first: number, buffer: Uint8Array, bodyStart: number, topicLength: number): void {
	const topicStart = bodyStart + 2;
	const topicEnd = topicStart + topicLength;
	checkPublishTopic(buffer, topicStart, topicEnd);
	fillOversize(view, first, buffer);
	view.topicStart = topicStart;
	view.topicEnd = topicEnd;
	if (view.qos > 0) {
		const id = (buffer[topicEnd]! << 8) | buffer[topicEnd + 1]!;
		if (id === 0) throw new MqttError(ErrorCode.ZERO_PACKET_ID, "PUBLISH has packet identifier 0, which is never valid");
		view.packetId = id;
	}
}
