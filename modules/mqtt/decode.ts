// Strict decoding of the packets a client receives (CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL,
// PUBCOMP, SUBACK, UNSUBACK, PINGRESP): `parsePacket` fills a reusable PacketView with offsets into the
// caller's buffer (no allocation). The broker half (CONNECT, SUBSCRIBE, ...) is test tooling.

import { ErrorCode, MqttError } from "./errors.js";
import {
	CONNACK, DISCONNECT, DUP_FLAG, FLAGS_MASK, PACKET_NAMES, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH,
	PUBREC, PUBREL, QOS_BITS, QOS_SHIFT, REQUIRED_FLAGS, RETAIN_FLAG, SESSION_PRESENT, SUBACK, SUBACK_FAILURE,
	SUBSCRIBE, TYPE_SHIFT, UNSUBACK, UNSUBSCRIBE,
} from "./constants.js";
import type { QoS } from "./packet.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength } from "./remaining-length.js";
import { hasWildcard } from "./topic.js";
import { charCode, checkUtf8, decodeUtf8, utf8Error } from "./utf8.js";

const EMPTY = new Uint8Array(0);

/**
 * One decoded packet, as offsets into the buffer it was read from. It is reused for every
 * packet: read what you need before the next one arrives. Strings are made only on request.
 */
export class PacketView {
	type = 0;
	flags = 0;
	buffer: Uint8Array = EMPTY;
	/** The body (variable header and payload): [bodyStart, bodyEnd). */
	bodyStart = 0;
	bodyEnd = 0;
	packetId = 0;
	// PUBLISH
	dup = false;
	qos: QoS = 0;
	retain = false;
	/**
	 * Where the topic's bytes are: [topicStart, topicEnd) of `topicBuffer`, which is `buffer` unless an
	 * MQTT 5.0 PUBLISH named its topic by a topic alias (then it is the client's alias table).
	 */
	topicBuffer: Uint8Array = EMPTY;
	topicStart = 0;
	topicEnd = 0;
	payloadStart = 0;
	payloadEnd = 0;
	/**
	 * An oversize PUBLISH (larger than the receive buffer) is drained, not kept: the view then
	 * holds its topic (when the topic fitted; `topicEnd > topicStart`), its QoS and identifier,
	 * only the first payload bytes, and the whole payload length in `payloadLength`.
	 */
	oversize = false;
	payloadLength = 0;
	// CONNACK
	sessionPresent = false;
	returnCode = 0;

	/** The PUBLISH topic name as a string (allocates it). */
	topic(): string {
		return decodeUtf8(this.topicBuffer, this.topicStart, this.topicEnd);
	}
	/** The payload as a UTF-8 string (allocates it). */
	payloadText(): string {
		return decodeUtf8(this.buffer, this.payloadStart, this.payloadEnd);
	}
	/** A copy of the payload bytes (allocates it). */
	payloadBytes(): Uint8Array {
		return this.buffer.slice(this.payloadStart, this.payloadEnd);
	}
	/** Does the topic equal `topic` (compared as UTF-8 bytes, without making a string)? */
	topicEquals(topic: string): boolean {
		let at = this.topicStart;
		const end = this.topicEnd;
		for (let i = 0; ; i++) {
			const c = charCode.call(topic, i);
			if (c !== c) return at === end;
			if (c >= 0x80) return this.topic() === topic;
			if (at >= end || this.topicBuffer[at++] !== c) return false;
		}
	}
}

export function malformed(code: ErrorCode, message: string): MqttError {
	return new MqttError(code, message);
}

/** The flags the fixed header's low nibble must carry, or -1 for PUBLISH (it carries DUP, QoS, RETAIN). */
function requiredFlags(type: number): number {
	if (type === PUBLISH) return -1;
	return (type === PUBREL || type === SUBSCRIBE || type === UNSUBSCRIBE) ? REQUIRED_FLAGS : 0;
}

/** Checks the first byte of a fixed header as soon as it arrives. */
export function checkFirstByte(byte: number): void {
	const type = byte >> TYPE_SHIFT;
	const flags = byte & FLAGS_MASK;
	if (type === 0 || type === 15)
		throw malformed(ErrorCode.RESERVED_PACKET_TYPE, `packet type ${type} is reserved`);
	const required = requiredFlags(type);
	if (required >= 0) {
		if (flags !== required)
			throw malformed(ErrorCode.INVALID_FLAGS, `${PACKET_NAMES[type]} must have fixed-header flags ${required === REQUIRED_FLAGS ? "0010" : "0000"}, not ${flags.toString(2).padStart(4, "0")}`);
		return;
	}
	const qos = (flags >> QOS_SHIFT) & QOS_BITS;
	if (qos === 3)
		throw malformed(ErrorCode.INVALID_QOS, "PUBLISH has QoS bits 11, which no QoS is");
	if (qos === 0 && (flags & DUP_FLAG))
		throw malformed(ErrorCode.DUP_WITH_QOS0, "a QoS 0 PUBLISH must have DUP 0");
}

/** Checks a remaining length against the type as soon as it is known (fixed-size types fail fast). */
export function checkRemainingLength(type: number, flags: number, length: number): void {
	switch (type) {
		case CONNACK:
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK:
			if (length !== 2)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} must have remaining length 2, not ${length}`);
			return;
		case PINGREQ:
		case PINGRESP:
		case DISCONNECT:
			if (length !== 0)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} must have remaining length 0, not ${length}`);
			return;
		case PUBLISH: {
			const min = 2 + (((flags >> QOS_SHIFT) & QOS_BITS) > 0 ? 2 : 0);
			if (length < min)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `PUBLISH remaining length ${length} cannot hold a topic name${min > 2 ? " and a packet identifier" : ""}`);
			return;
		}
		case SUBACK:
			if (length < 3)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `SUBACK remaining length ${length} cannot hold an identifier and a return code`);
			return;
		case SUBSCRIBE:
		case UNSUBSCRIBE:
			if (length < 2)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} remaining length ${length} cannot hold a packet identifier`);
			return;
		default:
			return;
	}
}

export function readId(view: PacketView, buffer: Uint8Array, at: number, type: number): void {
	const id = (buffer[at]! << 8) | buffer[at + 1]!;
	if (id === 0)
		throw malformed(ErrorCode.ZERO_PACKET_ID, `${PACKET_NAMES[type]} has packet identifier 0, which is never valid`);
	view.packetId = id;
}

/** Reads a 2-byte length and checks the string's bytes; returns the offset after the string. */
export function skipString(buffer: Uint8Array, at: number, end: number, what: string): number {
	if (at + 2 > end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${what}: the remaining length ends inside its length prefix`);
	const length = (buffer[at]! << 8) | buffer[at + 1]!;
	const stop = at + 2 + length;
	if (stop > end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${what}: its ${length} bytes run past the remaining length`);
	const code = checkUtf8(buffer, at + 2, stop);
	if (code !== 0) throw utf8Error(code, what);
	return stop;
}

/** Like skipString for binary data (will message, password): no UTF-8 rules. */
export function skipBinary(buffer: Uint8Array, at: number, end: number, what: string): number {
	if (at + 2 > end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${what}: the remaining length ends inside its length prefix`);
	const stop = at + 2 + ((buffer[at]! << 8) | buffer[at + 1]!);
	if (stop > end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${what}: its bytes run past the remaining length`);
	return stop;
}

/** Checks PUBLISH topic bytes [start, end): non-empty, UTF-8, no wildcard. */
export function checkPublishTopic(buffer: Uint8Array, start: number, end: number): void {
	if (start === end)
		throw malformed(ErrorCode.EMPTY_TOPIC, "PUBLISH topic name is empty");
	// One table-driven pass: a topic of plain ASCII (the usual case) is valid when no byte is
	// NUL, a wildcard or 0x80 and above; any such byte sends it through the full checks below.
	let i = start;
	while (i < end && PLAIN_TOPIC_BYTE[buffer[i]!] === 1) i++;
	if (i === end) return;
	const code = checkUtf8(buffer, start, end);
	if (code !== 0) throw utf8Error(code, "PUBLISH topic name");
	if (hasWildcard(buffer, start, end))
		throw malformed(ErrorCode.WILDCARD_IN_TOPIC, "PUBLISH topic name contains a wildcard (+ or #)");
}

/** 1 for the bytes a topic name holds as they are: ASCII but NUL, `+` and `#` (a constant table). */
const PLAIN_TOPIC_BYTE = new Uint8Array(256);
PLAIN_TOPIC_BYTE.fill(1, 1, 0x80);
PLAIN_TOPIC_BYTE[0x2B] = PLAIN_TOPIC_BYTE[0x23] = 0;

/** Validates and takes apart a packet body: `parseBody` here (what a client receives), or the broker half's. */
export type BodyParser = (view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number) => void;

/**
 * Validates the body [start, end) of a packet whose first byte was `firstByte` (already checked
 * with checkFirstByte and checkRemainingLength) and fills `view`. Throws MqttError when malformed.
 */
export function parseBody(view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number): void {
	const type = firstByte >> TYPE_SHIFT;
	const flags = firstByte & FLAGS_MASK;
	view.type = type;
	view.flags = flags;
	view.buffer = buffer;
	view.bodyStart = start;
	view.bodyEnd = end;
	view.packetId = 0;
	view.oversize = false;
	switch (type) {
		case PUBLISH: {
			const qos = ((flags >> QOS_SHIFT) & QOS_BITS) as QoS;
			view.qos = qos;
			view.dup = (flags & DUP_FLAG) !== 0;
			view.retain = (flags & RETAIN_FLAG) !== 0;
			const topicLength = (buffer[start]! << 8) | buffer[start + 1]!;
			const topicStart = start + 2;
			const topicEnd = topicStart + topicLength;
			let at = topicEnd + (qos > 0 ? 2 : 0);
			if (at > end)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `PUBLISH topic name of ${topicLength} bytes${qos > 0 ? " and packet identifier" : ""} run past the remaining length`);
			checkPublishTopic(buffer, topicStart, topicEnd);
			if (qos > 0) readId(view, buffer, topicEnd, type);
			view.topicBuffer = buffer;
			view.topicStart = topicStart;
			view.topicEnd = topicEnd;
			view.payloadStart = at;
			view.payloadEnd = end;
			view.payloadLength = end - at;
			return;
		}
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK:
			readId(view, buffer, start, type);
			return;
		case CONNACK: {
			const ack = buffer[start]!;
			const code = buffer[start + 1]!;
			if (ack & ~SESSION_PRESENT & 0xFF)
				throw malformed(ErrorCode.CONNACK_RESERVED_BITS, `CONNACK acknowledge flags must have bits 7..1 clear, not 0x${ack.toString(16)}`);
			if (code > 5)
				throw malformed(ErrorCode.INVALID_RETURN_CODE, `CONNACK return code ${code} is reserved (0..5 are defined)`);
			if ((ack & SESSION_PRESENT) && code !== 0)
				throw malformed(ErrorCode.CONNACK_RESERVED_BITS, "CONNACK refusing the connection must have session present 0");
			view.sessionPresent = (ack & SESSION_PRESENT) !== 0;
			view.returnCode = code;
			return;
		}
		case SUBACK: {
			readId(view, buffer, start, type);
			for (let i = start + 2; i < end; i++) {
				// 0, 1, 2 grant a QoS; 0x80 is Failure (§3.9.3). Any other code with the high bit set is
				// taken as a refusal too: ejabberd 23.01 sends MQTT 5 reason codes (0x87, 0x8F, ...) to
				// 3.1.1 clients, and the high bit means failure in both versions. 3..0x7F stay malformed.
				const c = buffer[i]!;
				if (c > 2 && c < SUBACK_FAILURE)
					throw malformed(ErrorCode.INVALID_SUBACK_CODE, `SUBACK return code 0x${c.toString(16)} is not 0, 1, 2 or a failure (0x80 and above)`);
			}
			view.payloadStart = start + 2;
			view.payloadEnd = end;
			return;
		}
		case PINGRESP:
			return;
		default:
			// CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT: only a client sends them (the broker
			// half of the codec, for test tools, is test/lib/server-codec.ts).
			throw malformed(ErrorCode.UNEXPECTED_PACKET, `a broker must not send ${PACKET_NAMES[type]}`);
	}
}

/**
 * Parses one whole packet at `offset` of a buffer holding [offset, end). Returns its size in bytes,
 * or 0 when the buffer ends before the packet does. Throws MqttError when it is malformed.
 */
export function parsePacket(view: PacketView, buffer: Uint8Array, offset: number, end: number, parse: BodyParser = parseBody): number {
	if (offset >= end) return 0;
	const first = buffer[offset]!;
	checkFirstByte(first);
	const packed = readRemainingLength(buffer, offset + 1, end);
	if (packed < 0) return 0;
	const length = packed & LENGTH_VALUE_MASK;
	const size = 1 + (packed >>> LENGTH_SIZE_SHIFT);
	checkRemainingLength(first >> TYPE_SHIFT, first & FLAGS_MASK, length);
	if (offset + size + length > end) return 0;
	parse(view, first, buffer, offset + size, offset + size + length);
	return size + length;
}
