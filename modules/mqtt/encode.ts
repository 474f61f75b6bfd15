// Encoders for the packets a client sends (and the two-byte and acknowledgement packets, which both
// sides send) into a caller-owned Uint8Array. Each validates everything first and writes nothing
// unless the packet is legal and fits; each returns the bytes written. The broker half (CONNACK,
// SUBACK, and packet objects) is test tooling: test/lib/server-codec.ts.

import { ErrorCode, MqttError } from "./errors.js";
import {
	CLEAN_SESSION, CONNECT, DISCONNECT, DUP_FLAG, MAX_REMAINING_LENGTH, MAX_STRING_BYTES,
	PASSWORD_FLAG, PINGREQ, PINGRESP, PROTOCOL_LEVEL, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, QOS_SHIFT,
	REQUIRED_FLAGS, RETAIN_FLAG, SUBSCRIBE, TYPE_SHIFT, UNSUBACK, UNSUBSCRIBE,
	USERNAME_FLAG, WILL_FLAG, WILL_QOS_SHIFT, WILL_RETAIN,
} from "./constants.js";
import type { ConnectPacket, Payload, QoS, Subscription } from "./packet.js";
import { remainingLengthSize, writeRemainingLength } from "./remaining-length.js";
/** The protocol level of MQTT 5.0 (5.0 §3.1.2.2). */
export const PROTOCOL_LEVEL_5 = 5;

import { propertiesLength, propertiesSize, WILL_PROPERTIES, writeProperties } from "./properties.js";
import type { PropertyValues } from "./properties.js";
import { topicNameBytes, validateTopicFilter, writeTopicName } from "./topic.js";
import { utf8Length, writeUtf8 } from "./utf8.js";

function tooSmall(type: string, needed: number, room: number): MqttError {
	return new MqttError(ErrorCode.BUFFER_TOO_SMALL, `${type} needs ${needed} bytes; the buffer has ${room} from the offset`);
}

export function checkRoom(type: string, buffer: Uint8Array, offset: number, total: number): void {
	if (offset < 0 || offset + total > buffer.length) throw tooSmall(type, total, buffer.length - offset);
}

export function checkPacketId(packetId: number | undefined, type: string): number {
	if (typeof packetId !== "number" || !(packetId >= 1 && packetId <= 65_535) || (packetId | 0) !== packetId)
		throw new MqttError(ErrorCode.INVALID_PACKET_ID, `${type} needs a packet identifier in 1..65,535, not ${packetId}`);
	return packetId;
}

export function checkQoS(qos: number, what: string): QoS {
	if (qos !== 0 && qos !== 1 && qos !== 2)
		throw new MqttError(ErrorCode.INVALID_QOS, `${what} QoS must be 0, 1 or 2, not ${qos}`);
	return qos;
}

/** Bytes of a payload: strings as UTF-8 (lenient), binary as is. */
export function payloadLength(payload: Payload): number {
	if (typeof payload === "string") return utf8Length(payload, false);
	if (payload instanceof Uint8Array || payload instanceof ArrayBuffer) return payload.byteLength;
	throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a payload must be a Uint8Array, an ArrayBuffer or a string");
}

export function writePayload(payload: Payload, buffer: Uint8Array, offset: number): number {
	if (typeof payload === "string") return writeUtf8(payload, buffer, offset);
	if (payload instanceof Uint8Array) {
		buffer.set(payload, offset);
		return offset + payload.length;
	}
	buffer.set(new Uint8Array(payload), offset);
	return offset + payload.byteLength;
}

/** UTF-8 bytes of an MQTT string field, checked against the string rules and the 65,535 limit. */
export function stringLength(text: string, what: string): number {
	if (typeof text !== "string") throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${what} must be a string`);
	const n = utf8Length(text, true);
	if (n > MAX_STRING_BYTES) throw new MqttError(ErrorCode.STRING_TOO_LONG, `${what} is ${n} bytes of UTF-8; at most 65,535 fit`);
	return n;
}

export function writeString(text: string, bytes: number, buffer: Uint8Array, offset: number): number {
	buffer[offset] = bytes >> 8;
	buffer[offset + 1] = bytes & 0xFF;
	return writeUtf8(text, buffer, offset + 2);
}

export function checkRemaining(type: string, remaining: number): void {
	if (remaining > MAX_REMAINING_LENGTH)
		throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `${type} would have a remaining length of ${remaining}; at most 268,435,455 is possible`);
}

// PUBLISH: the hot path. Publishers mostly repeat a few topic strings: a TopicCache, owned by its
// user (a session), keeps the last one validated and encoded, so that it is copied natively (copyWithin)
// instead of being checked and converted from the string again.

/**
 * The last topic name looked up, validated, and encoded (length prefix and UTF-8) in `buffer` at
 * [offset, offset + 2 + bytes) when it fits `size`.
 */
export class TopicCache {
	/** The topic whose bytes are in the buffer, or undefined. */
	topic: string | undefined = undefined;
	bytes = 0;
	/** The last topic looked up (cached or too long to be), and its UTF-8 length. */
	private last: string | undefined = undefined;
	private lastBytes = 0;
	constructor(readonly buffer: Uint8Array, readonly offset: number, readonly size: number) {}

	/** The UTF-8 length of `topic`, validated as a topic name; encoded into the cache when it fits. */
	lookup(topic: string): number {
		if (topic === this.last) return this.lastBytes;
		// Validated and encoded in one pass; a topic that throws leaves the cache empty.
		this.topic = undefined;
		const buffer = this.buffer;
		const at = this.offset;
		const n = writeTopicName(topic, buffer, at + 2, this.size - 2, "the PUBLISH topic name");
		this.last = topic;
		this.lastBytes = n;
		if (2 + n <= this.size) {
			buffer[at] = n >> 8;
			buffer[at + 1] = n & 0xFF;
			this.topic = topic;
			this.bytes = n;
		}
		return n;
	}
}

/** The remaining length of a PUBLISH (checked against the largest possible). */
export function publishRemaining(topicBytes: number, payloadBytes: number, qos: number): number {
	const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
	if (remaining > MAX_REMAINING_LENGTH) checkRemaining("PUBLISH", remaining);
	return remaining;
}

/** A packet's whole size from its remaining length. */
export function packetSize(remaining: number): number {
	return 1 + (remaining < 128 ? 1 : remainingLengthSize(remaining)) + remaining;
}

/**
 * Writes a PUBLISH (measured and validated by the caller: `topicBytes` from topicNameBytes or a
 * TopicCache, `remaining` from publishRemaining); returns the offset after it. The topic's bytes
 * are copied from `cache` when it holds them in this same buffer.
 */
export function writePublish(buffer: Uint8Array, offset: number, topic: string, topicBytes: number, payload: Payload, qos: number, retain: boolean, dup: boolean, packetId: number, remaining: number, cache: TopicCache | undefined): number {
	buffer[offset++] = (PUBLISH << TYPE_SHIFT) | (dup ? DUP_FLAG : 0) | (qos << QOS_SHIFT) | (retain ? RETAIN_FLAG : 0);
	if (remaining < 128) buffer[offset++] = remaining;
	else offset = writeRemainingLength(remaining, buffer, offset);
	offset = writeTopic(buffer, offset, topic, topicBytes, cache);
	if (qos > 0) {
		buffer[offset++] = packetId >> 8;
		buffer[offset++] = packetId & 0xFF;
	}
	if (payload instanceof Uint8Array) {
		buffer.set(payload, offset);
		return offset + payload.length;
	}
	return writePayload(payload, buffer, offset);
}

/**
 * Writes a topic name with its length at `offset`; returns the offset after it. Copied from `cache`
 * when it holds the topic in this same buffer (natively), else encoded from the string.
 */
export function writeTopic(buffer: Uint8Array, offset: number, topic: string, topicBytes: number, cache: TopicCache | undefined): number {
	if (cache !== undefined && cache.topic === topic && cache.buffer === buffer) {
		const from = cache.offset;
		const end = from + 2 + topicBytes;
		buffer.copyWithin(offset, from, end);
		return offset + end - from;
	}
	return writeString(topic, topicBytes, buffer, offset);
}

/** Encodes a PUBLISH at `offset`; returns the bytes written. `packetId` is used only when qos > 0. */
export function encodePublish(buffer: Uint8Array, offset: number, topic: string, payload: Payload, qos: number, retain: boolean, dup: boolean, packetId: number): number {
	if (qos !== 0 && qos !== 1 && qos !== 2) checkQoS(qos, "PUBLISH");
	if (qos > 0) checkPacketId(packetId, "PUBLISH with QoS > 0");
	else if (dup) throw new MqttError(ErrorCode.DUP_WITH_QOS0, "a QoS 0 PUBLISH must have DUP 0");
	const topicBytes = topicNameBytes(topic, "the PUBLISH topic name");
	const payloadBytes = payload instanceof Uint8Array ? payload.length : payloadLength(payload);
	const remaining = publishRemaining(topicBytes, payloadBytes, qos);
	const total = packetSize(remaining);
	checkRoom("PUBLISH", buffer, offset, total);
	writePublish(buffer, offset, topic, topicBytes, payload, qos, retain, dup, packetId, remaining, undefined);
	return total;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK: the type, its flags, 2, and the identifier. */
export function encodeAck(buffer: Uint8Array, offset: number, type: number, packetId: number): number {
	if (type !== PUBACK && type !== PUBREC && type !== PUBREL && type !== PUBCOMP && type !== UNSUBACK)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `packet type ${type} is not an acknowledgement`);
	checkPacketId(packetId, "an acknowledgement");
	checkRoom("an acknowledgement", buffer, offset, 4);
	buffer[offset] = (type << TYPE_SHIFT) | (type === PUBREL ? REQUIRED_FLAGS : 0);
	buffer[offset + 1] = 2;
	buffer[offset + 2] = packetId >> 8;
	buffer[offset + 3] = packetId & 0xFF;
	return 4;
}

/** PINGREQ, PINGRESP or DISCONNECT: two bytes. */
export function encodeEmpty(buffer: Uint8Array, offset: number, type: number): number {
	if (type !== PINGREQ && type !== PINGRESP && type !== DISCONNECT)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `packet type ${type} is not PINGREQ, PINGRESP or DISCONNECT`);
	checkRoom("a two-byte packet", buffer, offset, 2);
	buffer[offset] = type << TYPE_SHIFT;
	buffer[offset + 1] = 0;
	return 2;
}

export function encodeConnect(buffer: Uint8Array, offset: number, packet: ConnectPacket): number {
	const level = packet.protocolLevel ?? PROTOCOL_LEVEL;
	if (!(level >= 0 && level <= 255) || (level | 0) !== level)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `protocol level must be a byte, not ${level}`);
	const keepAlive = packet.keepAlive;
	if (!(keepAlive >= 0 && keepAlive <= 65_535) || (keepAlive | 0) !== keepAlive)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `keep alive must be 0..65,535 seconds, not ${keepAlive}`);
	const idBytes = stringLength(packet.clientId, "the client identifier");
	// The MQTT 5.0 layout (with `properties`, even empty) carries property blocks, and lets the broker
	// assign an identifier to any client (5.0 §3.1.3.1). Without them the layout is 3.1.1's, whatever
	// protocol level byte is asked for.
	const v5 = packet.properties !== undefined;
	if (v5 && level !== PROTOCOL_LEVEL_5)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "properties need MQTT 5.0 (protocol level 5)");
	if (!v5 && packet.will?.properties !== undefined)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "will properties need MQTT 5.0 (CONNECT properties, protocol level 5)");
	if (idBytes === 0 && !packet.cleanSession && !v5)
		throw new MqttError(ErrorCode.EMPTY_CLIENT_ID, "an empty client identifier needs clean session 1");
	const props = v5 ? propertiesLength(packet.properties, CONNECT) : 0;
	let remaining = 10 + (v5 ? propertiesSize(props) : 0) + 2 + idBytes;
	let flags = packet.cleanSession ? CLEAN_SESSION : 0;
	const will = packet.will;
	let willProps = 0;
	let willTopicBytes = 0;
	let willPayloadBytes = 0;
	if (will) {
		if (v5) {
			willProps = propertiesLength(will.properties, WILL_PROPERTIES);
			remaining += propertiesSize(willProps);
		}
		willTopicBytes = topicNameBytes(will.topic, "the will topic");
		willPayloadBytes = payloadLength(will.payload);
		if (willPayloadBytes > MAX_STRING_BYTES)
			throw new MqttError(ErrorCode.STRING_TOO_LONG, `the will message is ${willPayloadBytes} bytes; at most 65,535 fit`);
		flags |= WILL_FLAG | (checkQoS(will.qos, "will") << WILL_QOS_SHIFT) | (will.retain ? WILL_RETAIN : 0);
		remaining += 2 + willTopicBytes + 2 + willPayloadBytes;
	}
	let userBytes = 0;
	let passwordBytes = 0;
	if (packet.username !== undefined) {
		userBytes = stringLength(packet.username, "the user name");
		flags |= USERNAME_FLAG;
		remaining += 2 + userBytes;
	}
	if (packet.password !== undefined) {
		if (packet.username === undefined && !v5)
			throw new MqttError(ErrorCode.PASSWORD_WITHOUT_USERNAME, "a password needs a user name (MQTT 3.1.1 §3.1.2.9; 5.0 allows it)");
		passwordBytes = payloadLength(packet.password);
		if (passwordBytes > MAX_STRING_BYTES)
			throw new MqttError(ErrorCode.STRING_TOO_LONG, "the password is longer than 65,535 bytes");
		flags |= PASSWORD_FLAG;
		remaining += 2 + passwordBytes;
	}
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("CONNECT", buffer, offset, total);
	let at = offset;
	buffer[at++] = CONNECT << TYPE_SHIFT;
	at = writeRemainingLength(remaining, buffer, at);
	buffer[at++] = 0; buffer[at++] = 4; // the protocol name's length
	buffer[at++] = 0x4D; buffer[at++] = 0x51; buffer[at++] = 0x54; buffer[at++] = 0x54; // "MQTT"
	buffer[at++] = level;
	buffer[at++] = flags;
	buffer[at++] = keepAlive >> 8;
	buffer[at++] = keepAlive & 0xFF;
	if (v5) at = writeProperties(packet.properties, props, buffer, at);
	at = writeString(packet.clientId, idBytes, buffer, at);
	if (will) {
		if (v5) at = writeProperties(will.properties, willProps, buffer, at);
		at = writeString(will.topic, willTopicBytes, buffer, at);
		buffer[at++] = willPayloadBytes >> 8;
		buffer[at++] = willPayloadBytes & 0xFF;
		at = writePayload(will.payload, buffer, at);
	}
	if (packet.username !== undefined) at = writeString(packet.username, userBytes, buffer, at);
	if (packet.password !== undefined) {
		buffer[at++] = passwordBytes >> 8;
		buffer[at++] = passwordBytes & 0xFF;
		at = writePayload(packet.password, buffer, at);
	}
	return total;
}

/**
 * SUBSCRIBE; with `version` 5 (MQTT 5.0 §3.8), its properties and each subscription's options too.
 */
export function encodeSubscribe(buffer: Uint8Array, offset: number, packetId: number, subscriptions: readonly Subscription[], version: 4 | 5 = 4, properties?: PropertyValues): number {
	checkPacketId(packetId, "SUBSCRIBE");
	if (!subscriptions || subscriptions.length === 0)
		throw new MqttError(ErrorCode.NO_TOPIC_FILTERS, "SUBSCRIBE needs at least one topic filter");
	const props = requestProperties(version, properties, SUBSCRIBE);
	let remaining = 2 + (version === 5 ? propertiesSize(props) : 0);
	for (let i = 0; i < subscriptions.length; i++) {
		const s = subscriptions[i]!;
		validateTopicFilter(s.filter);
		checkQoS(s.qos, "requested");
		subscriptionOptions(s, version);
		remaining += 2 + utf8Length(s.filter, true) + 1;
	}
	checkRemaining("SUBSCRIBE", remaining);
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("SUBSCRIBE", buffer, offset, total);
	let at = offset;
	buffer[at++] = (SUBSCRIBE << TYPE_SHIFT) | REQUIRED_FLAGS;
	at = writeRemainingLength(remaining, buffer, at);
	buffer[at++] = packetId >> 8;
	buffer[at++] = packetId & 0xFF;
	if (version === 5) at = writeProperties(properties, props, buffer, at);
	for (let i = 0; i < subscriptions.length; i++) {
		const s = subscriptions[i]!;
		at = writeString(s.filter, utf8Length(s.filter, true), buffer, at);
		buffer[at++] = subscriptionOptions(s, version);
	}
	return total;
}

/** UNSUBSCRIBE; with `version` 5 (MQTT 5.0 §3.10), its properties too. */
export function encodeUnsubscribe(buffer: Uint8Array, offset: number, packetId: number, filters: readonly string[], version: 4 | 5 = 4, properties?: PropertyValues): number {
	checkPacketId(packetId, "UNSUBSCRIBE");
	if (!filters || filters.length === 0)
		throw new MqttError(ErrorCode.NO_TOPIC_FILTERS, "UNSUBSCRIBE needs at least one topic filter");
	const props = requestProperties(version, properties, UNSUBSCRIBE);
	let remaining = 2 + (version === 5 ? propertiesSize(props) : 0);
	for (let i = 0; i < filters.length; i++) {
		validateTopicFilter(filters[i]!);
		remaining += 2 + utf8Length(filters[i]!, true);
	}
	checkRemaining("UNSUBSCRIBE", remaining);
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("UNSUBSCRIBE", buffer, offset, total);
	let at = offset;
	buffer[at++] = (UNSUBSCRIBE << TYPE_SHIFT) | REQUIRED_FLAGS;
	at = writeRemainingLength(remaining, buffer, at);
	buffer[at++] = packetId >> 8;
	buffer[at++] = packetId & 0xFF;
	if (version === 5) at = writeProperties(properties, props, buffer, at);
	for (let i = 0; i < filters.length; i++) {
		const f = filters[i]!;
		at = writeString(f, utf8Length(f, true), buffer, at);
	}
	return total;
}

/** The property block's length of a SUBSCRIBE or UNSUBSCRIBE (0 for 3.1.1, which has none). */
function requestProperties(version: 4 | 5, properties: PropertyValues | undefined, type: number): number {
	if (version !== 5) {
		if (properties !== undefined) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "properties need MQTT 5.0 (version 5)");
		return 0;
	}
	return propertiesLength(properties, type);
}

/** A subscription's options byte (the requested QoS alone in 3.1.1), checked. */
function subscriptionOptions(s: Subscription, version: 4 | 5): number {
	const handling = s.retainHandling ?? 0;
	if (version !== 5) {
		if (s.noLocal || s.retainAsPublished || handling !== 0)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, "subscription options need MQTT 5.0 (version 5)");
		return s.qos;
	}
	if (handling !== 0 && handling !== 1 && handling !== 2)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `retain handling must be 0, 1 or 2, not ${String(handling)}`);
	// A shared subscription with No Local is a Protocol Error (5.0 §3.8.3.1).
	if (s.noLocal && s.filter.startsWith("$share/"))
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a shared subscription cannot have No Local");
	return s.qos | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) | (handling << 4);
}
