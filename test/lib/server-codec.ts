// The broker half of the codec, for test tools (fake and scripted brokers, fixtures, differential and
// fuzz tests), never in the firmware: parsing what a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE,
// PINGREQ, DISCONNECT), encoding what a broker sends (CONNACK, SUBACK; with MQTT 5.0, UNSUBACK too),
// and packets as plain objects (`decodePacket`, `encode`, in either version's layout; `encode5` with a
// 5.0 packet's properties and reason codes; `parseAnyBody5`, `propertyValues`). It builds on the
// client half in modules/mqtt, never the reverse.

import {
	CLEAN_SESSION, CONNACK, CONNECT, CONNECT_RESERVED, DISCONNECT, FLAGS_MASK, PACKET_NAMES, PASSWORD_FLAG,
	PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, QOS_BITS, SUBACK, SUBACK_FAILURE, SUBSCRIBE,
	TYPE_SHIFT, UNSUBACK, UNSUBSCRIBE, USERNAME_FLAG, WILL_FLAG, WILL_QOS_MASK, WILL_QOS_SHIFT, WILL_RETAIN,
} from "../../modules/mqtt/constants.js";
import { malformed, PacketView, parseBody, parsePacket, readId, skipBinary, skipString } from "../../modules/mqtt/decode.js";
import { PacketView5, parseBody5 } from "../../modules/mqtt/decode5.js";
import {
	checkPacketId, checkRemaining, checkRoom, encodeAck, encodeConnect, encodeEmpty, encodePublish, encodeSubscribe,
	encodeUnsubscribe,
} from "../../modules/mqtt/encode.js";
import { encodeAck5, encodePublish5, encodeReasonPacket } from "../../modules/mqtt/encode5.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import type { Packet, QoS, Subscription, Will } from "../../modules/mqtt/packet.js";
import {
	BINARY, Properties, propertiesLength, propertiesSize, Property, PROPERTY_NAMES, propertyType, readProperties, UTF8_STRING,
	WILL_PROPERTIES, writeProperties,
} from "../../modules/mqtt/properties.js";
import type { PropertyValues } from "../../modules/mqtt/properties.js";
import { PacketReader } from "../../modules/mqtt/reader.js";
import { remainingLengthSize, writeRemainingLength } from "../../modules/mqtt/remaining-length.js";
import { checkTopicFilterBytes, hasWildcard } from "../../modules/mqtt/topic.js";
import { decodeUtf8 } from "../../modules/mqtt/utf8.js";

/** A PacketView that also holds what a CONNECT carries, and (MQTT 5.0) a reason code and properties. */
export class ServerPacketView extends PacketView5 {
	protocolLevel = 0;
	connectFlags = 0;
	keepAlive = 0;
	/** MQTT 5.0: the will's properties in a CONNECT. */
	readonly willProperties = new Properties();
}

/** Validates and takes apart the body of any of the 14 packets (the client half's parseBody for what a broker sends). */
export function parseAnyBody(view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number): void {
	const type = firstByte >> TYPE_SHIFT;
	if (type !== CONNECT && type !== SUBSCRIBE && type !== UNSUBSCRIBE && type !== PINGREQ && type !== DISCONNECT)
		return parseBody(view, firstByte, buffer, start, end);
	begin(view, firstByte, buffer, start, end);
	switch (type) {
		case PINGREQ:
		case DISCONNECT:
			return;
		case SUBSCRIBE:
		case UNSUBSCRIBE:
			readId(view, buffer, start, type);
			return parseFilters(view, type, buffer, start + 2, end, false);
		case CONNECT:
			return parseConnect(view as ServerPacketView, buffer, start, end, false);
	}
}

/**
 * The same for MQTT 5.0 (OASIS MQTT Version 5.0): CONNECT, SUBSCRIBE and UNSUBSCRIBE with their
 * properties and subscription options, PINGREQ; the rest as decode5.ts reads it (`view` is a ServerPacketView).
 */
export function parseAnyBody5(view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number): void {
	const type = firstByte >> TYPE_SHIFT;
	if (type !== CONNECT && type !== SUBSCRIBE && type !== UNSUBSCRIBE && type !== PINGREQ)
		return parseBody5(view, firstByte, buffer, start, end);
	const v = view as ServerPacketView;
	begin(v, firstByte, buffer, start, end);
	v.reasonCode = 0;
	v.properties.clear(buffer);
	switch (type) {
		case PINGREQ:
			if (end !== start) throw malformed(ErrorCode.LENGTH_MISMATCH, `PINGREQ must have remaining length 0, not ${end - start}`);
			return;
		case SUBSCRIBE:
		case UNSUBSCRIBE:
			readId(view, buffer, start, type);
			return parseFilters(view, type, buffer, readProperties(buffer, start + 2, end, type, v.properties), end, true);
		case CONNECT:
			return parseConnect(v, buffer, start, end, true);
	}
}

/** Fills what every packet's view says: type, flags, where its body is. */
function begin(view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number): void {
	view.type = firstByte >> TYPE_SHIFT;
	view.flags = firstByte & FLAGS_MASK;
	view.buffer = buffer;
	view.bodyStart = start;
	view.bodyEnd = end;
	view.packetId = 0;
	view.oversize = false;
}

/** The topic filters of a SUBSCRIBE (each with its requested QoS, or 5.0 options) or UNSUBSCRIBE, from `start`. */
function parseFilters(view: PacketView, type: number, buffer: Uint8Array, start: number, end: number, v5: boolean): void {
	let at = start;
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
			// 5.0 §3.8.3.1: bits 2..5 are No Local, Retain As Published and Retain Handling (3 is no value).
			if (q & ~(v5 ? 0x3F : QOS_BITS) & 0xFF)
				throw malformed(ErrorCode.INVALID_REQUESTED_QOS, `SUBSCRIBE requested QoS byte 0x${q.toString(16)} has reserved bits set`);
			if ((q & QOS_BITS) === 3)
				throw malformed(ErrorCode.INVALID_QOS, "SUBSCRIBE requests QoS 3, which does not exist");
			if ((q >> 4) === 3)
				throw malformed(ErrorCode.INVALID_REQUESTED_QOS, "SUBSCRIBE asks for Retain Handling 3, which does not exist");
		}
	}
	view.payloadStart = start;
	view.payloadEnd = end;
}

/** A CONNECT's body: the 3.1.1 layout, or with `v5` the 5.0 one (properties after the keep alive, will properties before the will topic). */
function parseConnect(server: ServerPacketView, buffer: Uint8Array, start: number, end: number, v5: boolean): void {
	let at = start;
	if (end - start < 10 || buffer[at] !== 0 || buffer[at + 1] !== 4 || buffer[at + 2] !== 0x4D /* M */ || buffer[at + 3] !== 0x51 /* Q */ || buffer[at + 4] !== 0x54 /* T */ || buffer[at + 5] !== 0x54 /* T */)
		throw malformed(ErrorCode.INVALID_PROTOCOL_NAME, "CONNECT protocol name must be \"MQTT\"");
	const level = buffer[at + 6]!;
	if (v5 && level !== 5) throw malformed(ErrorCode.UNACCEPTABLE_PROTOCOL_VERSION, `a CONNECT read as MQTT 5.0 has protocol level ${level}`);
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
	server.protocolLevel = level;
	server.connectFlags = connectFlags;
	server.keepAlive = (buffer[at + 8]! << 8) | buffer[at + 9]!;
	at += 10;
	if (v5) at = readProperties(buffer, at, end, CONNECT, server.properties);
	// Where the client identifier starts.
	server.payloadStart = at;
	at = skipString(buffer, at, end, "CONNECT client identifier");
	server.willProperties.clear(buffer);
	if (willFlag) {
		if (v5) at = readProperties(buffer, at, end, WILL_PROPERTIES, server.willProperties);
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
}

/** A PacketReader for a broker's side: it takes every packet a client sends (`version` 5: MQTT 5.0). */
export function serverReader(size: number, version: 4 | 5 = 4): PacketReader {
	return new PacketReader(size, version === 5 ? parseAnyBody5 : parseAnyBody, new ServerPacketView(), version);
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

/**
 * A plain object for the packet in `view`, which a serverReader (or parseAnyBody) filled; `version` 5
 * for parseAnyBody5's (a CONNECT's properties are in the object; those of other packets, see `propertyValues`).
 */
export function toPacket(view: PacketView, version: 4 | 5 = 4): Packet {
	const b = view.buffer;
	switch (view.type) {
		case CONNECT: {
			const connect = view as ServerPacketView;
			const f = connect.connectFlags;
			let at = view.payloadStart;
			const clientId = str(b, at);
			at = next(b, at);
			const packet: Packet = { type: CONNECT, protocolLevel: connect.protocolLevel, clientId, cleanSession: (f & CLEAN_SESSION) !== 0, keepAlive: connect.keepAlive };
			if (version === 5) packet.properties = propertyValues(connect.properties);
			if (f & WILL_FLAG) {
				if (version === 5) at = connect.willProperties.end;
				const topic = str(b, at);
				at = next(b, at);
				const will: Will = { topic, payload: bin(b, at), qos: ((f >> WILL_QOS_SHIFT) & QOS_BITS) as QoS, retain: (f & WILL_RETAIN) !== 0 };
				at = next(b, at);
				if (version === 5) will.properties = propertyValues(connect.willProperties);
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
				const q = b[at++]!;
				const subscription: Subscription = { filter, qos: (q & QOS_BITS) as QoS };
				// MQTT 5.0 options, where set.
				if (q & 0x04) subscription.noLocal = true;
				if (q & 0x08) subscription.retainAsPublished = true;
				if (q >> 4) subscription.retainHandling = (q >> 4) as 1 | 2;
				subscriptions.push(subscription);
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
	const view = new ServerPacketView();
	const size = parsePacket(view, bytes, offset, end, parseAnyBody);
	if (size === 0)
		throw malformed(ErrorCode.LENGTH_MISMATCH, "the bytes end before the packet does");
	if (offset + size !== end)
		throw malformed(ErrorCode.LENGTH_MISMATCH, `${end - offset - size} bytes follow the packet`);
	return toPacket(view);
}

export function encodeConnack(buffer: Uint8Array, offset: number, sessionPresent: boolean, returnCode: number): number {
	if (!(returnCode >= 0 && returnCode <= 5) || (returnCode | 0) !== returnCode)
		throw new MqttError(ErrorCode.INVALID_RETURN_CODE, `CONNACK return code must be 0..5, not ${returnCode}`);
	if (sessionPresent && returnCode !== 0)
		throw new MqttError(ErrorCode.CONNACK_RESERVED_BITS, "CONNACK with a non-zero return code must have session present 0");
	checkRoom("CONNACK", buffer, offset, 4);
	buffer[offset] = CONNACK << TYPE_SHIFT;
	buffer[offset + 1] = 2;
	buffer[offset + 2] = sessionPresent ? 1 : 0;
	buffer[offset + 3] = returnCode;
	return 4;
}

export function encodeSuback(buffer: Uint8Array, offset: number, packetId: number, returnCodes: ArrayLike<number>): number {
	checkPacketId(packetId, "SUBACK");
	if (!returnCodes || returnCodes.length === 0)
		throw new MqttError(ErrorCode.NO_TOPIC_FILTERS, "SUBACK needs at least one return code");
	for (let i = 0; i < returnCodes.length; i++) {
		const c = returnCodes[i];
		// As the decoder reads them: any code of 0x80 and above is a failure (MQTT 5 reason codes, which some brokers send to 3.1.1 clients).
		if (!(c === 0 || c === 1 || c === 2 || (c >= SUBACK_FAILURE && c <= 0xFF)))
			throw new MqttError(ErrorCode.INVALID_SUBACK_CODE, `SUBACK return code must be 0, 1, 2 or a failure (0x80..0xFF), not ${c}`);
	}
	const remaining = 2 + returnCodes.length;
	checkRemaining("SUBACK", remaining);
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("SUBACK", buffer, offset, total);
	let at = offset;
	buffer[at++] = SUBACK << TYPE_SHIFT;
	at = writeRemainingLength(remaining, buffer, at);
	buffer[at++] = packetId >> 8;
	buffer[at++] = packetId & 0xFF;
	for (let i = 0; i < returnCodes.length; i++) buffer[at++] = returnCodes[i]!;
	return total;
}

/**
 * Encodes any packet object at `offset` (default 0) in the layout of `version` (default 4, MQTT 3.1.1;
 * 5 is `encode5`); returns the bytes written.
 */
export function encode(packet: Packet, buffer: Uint8Array, offset = 0, version: 4 | 5 = 4): number {
	if (version === 5) return encode5(packet, buffer, offset);
	switch (packet.type) {
		case CONNECT: return encodeConnect(buffer, offset, packet);
		case CONNACK: return encodeConnack(buffer, offset, packet.sessionPresent, packet.returnCode);
		case PUBLISH: return encodePublish(buffer, offset, packet.topic, packet.payload, packet.qos, packet.retain, packet.dup, packet.packetId ?? 0);
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
		case UNSUBACK: return encodeAck(buffer, offset, packet.type, packet.packetId);
		case SUBSCRIBE: return encodeSubscribe(buffer, offset, packet.packetId, packet.subscriptions);
		case SUBACK: return encodeSuback(buffer, offset, packet.packetId, packet.returnCodes);
		case UNSUBSCRIBE: return encodeUnsubscribe(buffer, offset, packet.packetId, packet.filters);
		case PINGREQ:
		case PINGRESP:
		case DISCONNECT: return encodeEmpty(buffer, offset, packet.type);
		default: throw new MqttError(ErrorCode.INVALID_ARGUMENT, `unknown packet type ${(packet as { type: unknown }).type}`);
	}
}

// ---- MQTT 5.0 -------------------------------------------------------------------------------

/** The properties a view read in place, as plain values (named as `PropertyValues` names them). */
export function propertyValues(p: Properties): PropertyValues {
	const out: Record<string, unknown> = {};
	for (let id = 1; id < PROPERTY_NAMES.length; id++) {
		if (id === Property.USER_PROPERTY || !p.has(id)) continue;
		const type = propertyType(id);
		out[PROPERTY_NAMES[id]!] = type === UTF8_STRING ? p.string(id) : type === BINARY ? p.bytes(id) : p.number(id, 0);
	}
	if (p.userProperties > 0) out.userProperties = p.userPairs();
	return out as PropertyValues;
}

/**
 * A packet in the MQTT 5.0 layout of CONNACK, SUBACK and UNSUBACK: `first` (the fixed header's first
 * byte), the `head` bytes, a property block for `place` (a packet type), then the `tail` bytes.
 * Test tooling: the codes are not checked, so that hostile packets can be written with it.
 */
export function encodeWithProperties(buffer: Uint8Array, offset: number, first: number, head: ArrayLike<number>, properties: PropertyValues | undefined, place: number, tail: ArrayLike<number> = []): number {
	const props = propertiesLength(properties, place);
	const remaining = head.length + propertiesSize(props) + tail.length;
	checkRemaining(PACKET_NAMES[first >> TYPE_SHIFT]!, remaining);
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom(PACKET_NAMES[first >> TYPE_SHIFT]!, buffer, offset, total);
	buffer[offset] = first;
	let at = writeRemainingLength(remaining, buffer, offset + 1);
	for (let i = 0; i < head.length; i++) buffer[at++] = head[i]!;
	at = writeProperties(properties, props, buffer, at);
	for (let i = 0; i < tail.length; i++) buffer[at++] = tail[i]!;
	return total;
}

/** CONNACK, MQTT 5.0 (5.0 §3.2): session present, the reason code, the broker's properties. */
export function encodeConnack5(buffer: Uint8Array, offset: number, sessionPresent: boolean, reasonCode: number, properties?: PropertyValues): number {
	return encodeWithProperties(buffer, offset, CONNACK << TYPE_SHIFT, [sessionPresent ? 1 : 0, reasonCode], properties, CONNACK);
}

/** SUBACK, MQTT 5.0 (5.0 §3.9): identifier, properties, a reason code per filter. */
export function encodeSuback5(buffer: Uint8Array, offset: number, packetId: number, reasonCodes: ArrayLike<number>, properties?: PropertyValues): number {
	return encodeWithProperties(buffer, offset, SUBACK << TYPE_SHIFT, [packetId >> 8, packetId & 0xFF], properties, SUBACK, reasonCodes);
}

/** UNSUBACK, MQTT 5.0 (5.0 §3.11): identifier, properties, a reason code per filter. */
export function encodeUnsuback5(buffer: Uint8Array, offset: number, packetId: number, reasonCodes: ArrayLike<number>, properties?: PropertyValues): number {
	return encodeWithProperties(buffer, offset, UNSUBACK << TYPE_SHIFT, [packetId >> 8, packetId & 0xFF], properties, UNSUBACK, reasonCodes);
}

/** A 3.1.1 CONNACK return code (1..5) as the 5.0 reason code that means the same (5.0 §3.2.2.2); others as they are. */
export function connackReason5(returnCode: number): number {
	const codes = [0x00, 0x84, 0x85, 0x88, 0x86, 0x87];
	return returnCode < codes.length ? codes[returnCode]! : returnCode;
}

/** What a 5.0 packet carries besides its object: properties, a reason code (acknowledgements, DISCONNECT), UNSUBACK's codes. */
export interface Extras5 {
	properties?: PropertyValues;
	reasonCode?: number;
	codes?: number[];
}

/**
 * The same packet object in the MQTT 5.0 layout: CONNECT at protocol level 5 with its properties
 * (none when absent), CONNACK with the reason code for its return code, and every other packet with
 * the property block 5.0 gives it: `extras` (empty by default: acknowledgements in the short form of
 * success, UNSUBACK with reason code 0 per filter).
 */
export function encode5(packet: Packet, buffer: Uint8Array, offset = 0, extras: Extras5 = {}): number {
	const { properties, reasonCode = 0 } = extras;
	switch (packet.type) {
		case CONNECT: return encodeConnect(buffer, offset, { ...packet, protocolLevel: 5, properties: packet.properties ?? {} });
		case CONNACK: return encodeConnack5(buffer, offset, packet.sessionPresent, connackReason5(packet.returnCode), properties);
		case PUBLISH: return encodePublish5(buffer, offset, packet.topic, packet.payload, packet.qos, packet.retain, packet.dup, packet.packetId ?? 0, properties);
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP: return encodeAck5(buffer, offset, packet.type, packet.packetId, reasonCode, properties);
		case SUBSCRIBE: return encodeSubscribe(buffer, offset, packet.packetId, packet.subscriptions, 5);
		case SUBACK: return encodeSuback5(buffer, offset, packet.packetId, packet.returnCodes, properties);
		case UNSUBSCRIBE: return encodeUnsubscribe(buffer, offset, packet.packetId, packet.filters, 5);
		case UNSUBACK: return encodeUnsuback5(buffer, offset, packet.packetId, extras.codes ?? [reasonCode], properties);
		case DISCONNECT: return encodeReasonPacket(buffer, offset, DISCONNECT, reasonCode, properties);
		default: return encode(packet, buffer, offset);
	}
}
