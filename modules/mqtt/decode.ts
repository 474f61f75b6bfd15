// Strict decoding of all 14 control packets. `parsePacket` fills a reusable PacketView with offsets
// into the caller's buffer (no allocation); `toPacket` and `decodePacket` make plain objects.

import { ErrorCode, MqttError } from "./errors.js";
import {
	CLEAN_SESSION, CONNACK, CONNECT, CONNECT_RESERVED, DISCONNECT, DUP_FLAG, FLAGS_MASK, PACKET_NAMES,
	PASSWORD_FLAG, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, QOS_BITS, QOS_SHIFT,
	REQUIRED_FLAGS, RETAIN_FLAG, SESSION_PRESENT, SUBACK, SUBACK_FAILURE, SUBSCRIBE, TYPE_SHIFT, UNSUBACK,
	UNSUBSCRIBE, USERNAME_FLAG, WILL_FLAG, WILL_QOS_MASK, WILL_QOS_SHIFT, WILL_RETAIN,
} from "./constants.js";
import type { Packet, QoS, Subscription, Will } from "./packet.js";
import { readRemainingLength, remainingLength } from "./remaining-length.js";
import { checkTopicFilterBytes, hasWildcard } from "./topic.js";
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
	// CONNECT
	protocolLevel = 0;
	connectFlags = 0;
	keepAlive = 0;

	/** The PUBLISH topic name as a string (allocates it). */
	topic(): string {
		return decodeUtf8(this.buffer, this.topicStart, this.topicEnd);
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
			if (at >= end || this.buffer[at++] !== c) return false;
		}
	}
}

function malformed(code: ErrorCode, message: string): MqttError {
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

function readId(view: PacketView, buffer: Uint8Array, at: number, type: number): void {
	const id = (buffer[at]! << 8) | buffer[at + 1]!;
	if (id === 0)
		throw malformed(ErrorCode.ZERO_PACKET_ID, `${PACKET_NAMES[type]} has packet identifier 0, which is never valid`);
	view.packetId = id;
}

/** Reads a 2-byte length and checks the string's bytes; returns the offset after the string. */
function skipString(buffer: Uint8Array, at: number, end: number, what: string): number {
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
function skipBinary(buffer: Uint8Array, at: number, end: number, what: string): number {
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
	const code = checkUtf8(buffer, start, end);
	if (code !== 0) throw utf8Error(code, "PUBLISH topic name");
	if (hasWildcard(buffer, start, end))
		throw malformed(ErrorCode.WILDCARD_IN_TOPIC, "PUBLISH topic name contains a wildcard (+ or #)");
}

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
		case PINGREQ:
		case PINGRESP:
		case DISCONNECT:
			return;
		case SUBSCRIBE:
		case UNSUBSCRIBE: {
			readId(view, buffer, start, type);
			let at = start + 2;
			if (at === end)
				throw malformed(ErrorCode.NO_TOPIC_FILTERS, `${PACKET_NAMES[type]} has no topic filters`);
			while (at < end) {
				const filterStart = at + 2;
				at = skipString(buffer, at, end, `${PACKET_NAMES[type]} topic filter`);
				const rule = checkTopicFilterBytes(buffer, filterStart, at);
				if (rule) throw malformed(ErrorCode.INVALID_TOPIC_FILTER, `${PACKET_NAMES[type]} topic filter: ${rule}`);
				if (type === SUBSCRIBE) {
					if (at >= end)
						throw malformed(ErrorCode.LENGTH_MISMATCH, "SUBSCRIBE topic filter has no requested QoS byte");
					const q = buffer[at++]!;
					if (q & ~QOS_BITS & 0xFF)
						throw malformed(ErrorCode.INVALID_REQUESTED_QOS, `SUBSCRIBE requested QoS byte 0x${q.toString(16)} has reserved bits set`);
					if (q === 3)
						throw malformed(ErrorCode.INVALID_QOS, "SUBSCRIBE requests QoS 3, which does not exist");
				}
			}
			view.payloadStart = start + 2;
			view.payloadEnd = end;
			return;
		}
		case CONNECT: {
			let at = start;
			if (end - start < 10 || buffer[at] !== 0 || buffer[at + 1] !== 4 || buffer[at + 2] !== 0x4D /* M */ || buffer[at + 3] !== 0x51 /* Q */ || buffer[at + 4] !== 0x54 /* T */ || buffer[at + 5] !== 0x54 /* T */)
				throw malformed(ErrorCode.INVALID_PROTOCOL_NAME, "CONNECT protocol name must be \"MQTT\"");
			const level = buffer[at + 6]!;
			const connectFlags = buffer[at + 7]!;
			if (connectFlags & CONNECT_RESERVED)
				throw malformed(ErrorCode.CONNECT_RESERVED_FLAG, "CONNECT reserved flag (bit 0) must be 0");
			const willFlag = (connectFlags & WILL_FLAG) !== 0;
			const willQoS = (connectFlags >> WILL_QOS_SHIFT) & QOS_BITS;
			if (willQoS === 3)
				throw malformed(ErrorCode.INVALID_QOS, "CONNECT will QoS is 3, which does not exist");
			if (!willFlag && (connectFlags & (WILL_QOS_MASK | WILL_RETAIN)))
				throw malformed(ErrorCode.INVALID_WILL_FLAGS, "CONNECT without a will must have will QoS 0 and will retain 0");
			if ((connectFlags & PASSWORD_FLAG) && !(connectFlags & USERNAME_FLAG))
				throw malformed(ErrorCode.PASSWORD_WITHOUT_USERNAME, "CONNECT has a password flag without a user name flag");
			view.protocolLevel = level;
			view.connectFlags = connectFlags;
			view.keepAlive = (buffer[at + 8]! << 8) | buffer[at + 9]!;
			at += 10;
			at = skipString(buffer, at, end, "CONNECT client identifier");
			if (willFlag) {
				const topicStart = at + 2;
				at = skipString(buffer, at, end, "CONNECT will topic");
				if (at === topicStart) throw malformed(ErrorCode.EMPTY_TOPIC, "CONNECT will topic is empty");
				if (hasWildcard(buffer, topicStart, at)) throw malformed(ErrorCode.WILDCARD_IN_TOPIC, "CONNECT will topic contains a wildcard (+ or #)");
				at = skipBinary(buffer, at, end, "CONNECT will message");
			}
			if (connectFlags & USERNAME_FLAG) at = skipString(buffer, at, end, "CONNECT user name");
			if (connectFlags & PASSWORD_FLAG) at = skipBinary(buffer, at, end, "CONNECT password");
			if (at !== end)
				throw malformed(ErrorCode.LENGTH_MISMATCH, `CONNECT has ${end - at} bytes after its last field`);
			return;
		}
		default:
			throw malformed(ErrorCode.RESERVED_PACKET_TYPE, `packet type ${type} is reserved`);
	}
}

/**
 * Parses one whole packet at `offset` of a buffer holding [offset, end). Returns its size in bytes,
 * or 0 when the buffer ends before the packet does. Throws MqttError when it is malformed.
 */
export function parsePacket(view: PacketView, buffer: Uint8Array, offset: number, end: number): number {
	if (offset >= end) return 0;
	const first = buffer[offset]!;
	checkFirstByte(first);
	if (!readRemainingLength(buffer, offset + 1, end)) return 0;
	const length = remainingLength.value;
	const size = 1 + remainingLength.size;
	checkRemainingLength(first >> TYPE_SHIFT, first & FLAGS_MASK, length);
	if (offset + size + length > end) return 0;
	parseBody(view, first, buffer, offset + size, offset + size + length);
	return size + length;
}

function str(buffer: Uint8Array, at: number): string {
	return decodeUtf8(buffer, at + 2, at + 2 + ((buffer[at]! << 8) | buffer[at + 1]!));
}
function bin(buffer: Uint8Array, at: number): Uint8Array {
	return buffer.slice(at + 2, at + 2 + ((buffer[at]! << 8) | buffer[at + 1]!));
}
function next(buffer: Uint8Array, at: number): number {
	return at + 2 + ((buffer[at]! << 8) | buffer[at + 1]!);
}

/** A plain object for the packet in `view` (allocates; for tools, tests and fake brokers). */
export function toPacket(view: PacketView): Packet {
	const b = view.buffer;
	switch (view.type) {
		case CONNECT: {
			const f = view.connectFlags;
			let at = view.bodyStart + 10;
			const clientId = str(b, at);
			at = next(b, at);
			const packet: Packet = { type: CONNECT, protocolLevel: view.protocolLevel, clientId, cleanSession: (f & CLEAN_SESSION) !== 0, keepAlive: view.keepAlive };
			if (f & WILL_FLAG) {
				const topic = str(b, at);
				at = next(b, at);
				const will: Will = { topic, payload: bin(b, at), qos: ((f >> WILL_QOS_SHIFT) & QOS_BITS) as QoS, retain: (f & WILL_RETAIN) !== 0 };
				at = next(b, at);
				packet.will = will;
			}
			if (f & USERNAME_FLAG) { packet.username = str(b, at); at = next(b, at); }
			if (f & PASSWORD_FLAG) packet.password = bin(b, at);
			return packet;
		}
		case CONNACK: return { type: CONNACK, sessionPresent: view.sessionPresent, returnCode: view.returnCode };
		case PUBLISH: {
			const packet: Packet = { type: PUBLISH, topic: view.topic(), payload: view.payloadBytes(), qos: view.qos, retain: view.retain, dup: view.dup };
			if (view.qos > 0) packet.packetId = view.packetId;
			return packet;
		}
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK:
			return { type: view.type, packetId: view.packetId } as Packet;
		case SUBSCRIBE: {
			const subscriptions: Subscription[] = [];
			for (let at = view.payloadStart; at < view.payloadEnd;) {
				const filter = str(b, at);
				at = next(b, at);
				subscriptions.push({ filter, qos: b[at++]! as QoS });
			}
			return { type: SUBSCRIBE, packetId: view.packetId, subscriptions };
		}
		case SUBACK: return { type: SUBACK, packetId: view.packetId, returnCodes: Array.from(b.subarray(view.payloadStart, view.payloadEnd)) };
		case UNSUBSCRIBE: {
			const filters: string[] = [];
			for (let at = view.payloadStart; at < view.payloadEnd; at = next(b, at)) filters.push(str(b, at));
			return { type: UNSUBSCRIBE, packetId: view.packetId, filters };
		}
		default:
			return { type: view.type } as Packet;
	}
}

/**
 * Decodes exactly one packet that fills `bytes` (from `offset`, to `end`). Throws MqttError when
 * malformed, or LENGTH_MISMATCH when the bytes hold less or more than one packet.
 */
export function decodePacket(bytes: Uint8Array, offset = 0, end = bytes.length): Packet {
	const view = new PacketView();
	const size = parsePacket(view, bytes, offset, end);
	if (size === 0)
		throw malformed(ErrorCode.LENGTH_MISMATCH, "the bytes end before the packet does");
	if (offset + size !== end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${end - offset - size} bytes follow the packet`);
	return toPacket(view);
}
