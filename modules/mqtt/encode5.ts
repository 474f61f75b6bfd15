// Encoders for the MQTT 5.0 packets a client sends (OASIS MQTT Version 5.0 chapter 3), into a
// caller-owned Uint8Array, with their properties (properties.ts). As in encode.ts, each validates
// everything first and writes nothing unless the packet is legal and fits; each returns the bytes written.

import {
	checkPacketId, checkQoS, checkRemaining, checkRoom, encodeConnect, encodeSubscribe, encodeUnsubscribe, payloadLength,
	PROTOCOL_LEVEL_5, writePayload, writeString, writeTopic,
} from "./encode.js";
import type { TopicCache } from "./encode.js";
import { ErrorCode, MqttError } from "./errors.js";
import {
	AUTH, CONNECT, DISCONNECT, DUP_FLAG, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, QOS_SHIFT, REQUIRED_FLAGS, RETAIN_FLAG, TYPE_SHIFT,
} from "./constants.js";
import type { Payload, QoS, Subscription } from "./packet.js";
import { Property, propertiesLength, propertiesSize, writeProperties, writePropertyValues } from "./properties.js";
import type { PropertyValues } from "./properties.js";
import { reasonAllowed, reasonName } from "./reason-codes.js";
import { remainingLengthSize, writeRemainingLength } from "./remaining-length.js";
import { topicNameBytes } from "./topic.js";

export interface Will5 {
	topic: string;
	payload: Payload;
	qos: QoS;
	retain: boolean;
	/** Will properties (§3.1.3.2): will delay, message expiry, content type, response topic, ... */
	properties?: PropertyValues;
}

export interface Connect5 {
	clientId: string;
	/** Clean Start (§3.1.2.4): the broker discards any session it holds for the client id. */
	cleanStart: boolean;
	/** Seconds; 0 turns keepalive off. */
	keepAlive: number;
	properties?: PropertyValues;
	will?: Will5;
	username?: string;
	password?: Payload;
}

/** A subscription with its options (§3.8.3.1): noLocal, retainAsPublished, retainHandling. */
export type Subscription5 = Subscription;

function checkReason(type: number, code: number, what: string): void {
	if (!reasonAllowed(type, code))
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${what} cannot carry reason code ${reasonName(code)}`);
}

/** CONNECT, protocol level 5 (§3.1): the 3.1.1 encoder with properties and Clean Start. */
export function encodeConnect5(buffer: Uint8Array, offset: number, packet: Connect5): number {
	return encodeConnect(buffer, offset, {
		type: CONNECT, protocolLevel: PROTOCOL_LEVEL_5, clientId: packet.clientId, cleanSession: packet.cleanStart,
		keepAlive: packet.keepAlive, properties: packet.properties ?? {}, will: packet.will, username: packet.username, password: packet.password,
	});
}

/**
 * PUBLISH with properties (§3.3). `topic` may be "" when `properties.topicAlias` names the topic
 * (§3.3.2.3.4); `packetId` is used only when qos > 0.
 */
export function encodePublish5(buffer: Uint8Array, offset: number, topic: string, payload: Payload, qos: number, retain: boolean, dup: boolean, packetId: number, properties?: PropertyValues): number {
	checkQoS(qos, "PUBLISH");
	if (qos > 0) checkPacketId(packetId, "PUBLISH with QoS > 0");
	else if (dup) throw new MqttError(ErrorCode.DUP_WITH_QOS0, "a QoS 0 PUBLISH must have DUP 0");
	if (properties?.subscriptionIdentifier !== undefined)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a PUBLISH from a client carries no subscription identifier (§3.3.4)");
	const aliased = topic === "" && properties?.topicAlias !== undefined;
	const topicBytes = aliased ? 0 : topicNameBytes(topic, "the PUBLISH topic name");
	const props = propertiesLength(properties, PUBLISH);
	const payloadBytes = payloadLength(payload);
	const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + propertiesSize(props) + payloadBytes;
	checkRemaining("PUBLISH", remaining);
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("PUBLISH", buffer, offset, total);
	let at = offset;
	buffer[at++] = (PUBLISH << TYPE_SHIFT) | (dup ? DUP_FLAG : 0) | (qos << QOS_SHIFT) | (retain ? RETAIN_FLAG : 0);
	at = writeRemainingLength(remaining, buffer, at);
	at = writeString(topic, topicBytes, buffer, at);
	if (qos > 0) {
		buffer[at++] = packetId >> 8;
		buffer[at++] = packetId & 0xFF;
	}
	at = writeProperties(properties, props, buffer, at);
	writePayload(payload, buffer, at);
	return total;
}

/**
 * Writes a PUBLISH whose parts are checked and measured already (the session's path): `topicBytes`
 * of topic (0: named by `alias` alone; copied from `cache` when it holds it in this buffer), `propsLength` bytes of `properties` (propertiesLength), and a
 * Topic Alias property when `alias` > 0. `remaining` counts all of it. Returns the offset after it.
 */
export function writePublish5(buffer: Uint8Array, offset: number, topic: string, topicBytes: number, payload: Payload, qos: number, retain: boolean, packetId: number, remaining: number, properties: PropertyValues | undefined, propsLength: number, alias: number, cache: TopicCache | undefined): number {
	let at = offset;
	buffer[at++] = (PUBLISH << TYPE_SHIFT) | (qos << QOS_SHIFT) | (retain ? RETAIN_FLAG : 0);
	at = writeRemainingLength(remaining, buffer, at);
	if (topicBytes > 0) at = writeTopic(buffer, at, topic, topicBytes, cache);
	else {
		buffer[at++] = 0;
		buffer[at++] = 0;
	}
	if (qos > 0) {
		buffer[at++] = packetId >> 8;
		buffer[at++] = packetId & 0xFF;
	}
	at = writeRemainingLength(propsLength + (alias > 0 ? 3 : 0), buffer, at);
	if (alias > 0) {
		buffer[at++] = Property.TOPIC_ALIAS;
		buffer[at++] = alias >> 8;
		buffer[at++] = alias & 0xFF;
	}
	if (properties !== undefined) at = writePropertyValues(properties, buffer, at);
	return writePayload(payload, buffer, at);
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP with a reason code and properties (§3.4–3.7). Success without
 * properties is the short form of 3.1.1 (remaining length 2, §3.4.2.1).
 */
export function encodeAck5(buffer: Uint8Array, offset: number, type: number, packetId: number, reasonCode = 0, properties?: PropertyValues): number {
	if (type !== PUBACK && type !== PUBREC && type !== PUBREL && type !== PUBCOMP)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `packet type ${type} is not PUBACK, PUBREC, PUBREL or PUBCOMP`);
	checkPacketId(packetId, "an acknowledgement");
	checkReason(type, reasonCode, "this acknowledgement");
	const props = propertiesLength(properties, type);
	const remaining = props > 0 ? 3 + propertiesSize(props) : reasonCode !== 0 ? 3 : 2;
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom("an acknowledgement", buffer, offset, total);
	let at = offset;
	buffer[at++] = (type << TYPE_SHIFT) | (type === PUBREL ? REQUIRED_FLAGS : 0);
	at = writeRemainingLength(remaining, buffer, at);
	buffer[at++] = packetId >> 8;
	buffer[at++] = packetId & 0xFF;
	if (remaining > 2) buffer[at++] = reasonCode;
	if (props > 0) writeProperties(properties, props, buffer, at);
	return total;
}

/** SUBSCRIBE with subscription options and properties (§3.8). */
export function encodeSubscribe5(buffer: Uint8Array, offset: number, packetId: number, subscriptions: readonly Subscription5[], properties?: PropertyValues): number {
	return encodeSubscribe(buffer, offset, packetId, subscriptions, 5, properties);
}

/** UNSUBSCRIBE with properties (§3.10). */
export function encodeUnsubscribe5(buffer: Uint8Array, offset: number, packetId: number, filters: readonly string[], properties?: PropertyValues): number {
	return encodeUnsubscribe(buffer, offset, packetId, filters, 5, properties);
}

/**
 * DISCONNECT (§3.14) or AUTH (§3.15) with a reason code and properties; success without properties
 * is the two-byte form (remaining length 0).
 */
export function encodeReasonPacket(buffer: Uint8Array, offset: number, type: typeof DISCONNECT | typeof AUTH, reasonCode = 0, properties?: PropertyValues): number {
	if (type !== DISCONNECT && type !== AUTH)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `packet type ${type} is not DISCONNECT or AUTH`);
	checkReason(type, reasonCode, type === DISCONNECT ? "DISCONNECT" : "AUTH");
	const props = propertiesLength(properties, type);
	const remaining = props > 0 ? 1 + propertiesSize(props) : reasonCode !== 0 ? 1 : 0;
	const total = 1 + remainingLengthSize(remaining) + remaining;
	checkRoom(type === DISCONNECT ? "DISCONNECT" : "AUTH", buffer, offset, total);
	let at = offset;
	buffer[at++] = type << TYPE_SHIFT;
	at = writeRemainingLength(remaining, buffer, at);
	if (remaining > 0) buffer[at++] = reasonCode;
	if (props > 0) writeProperties(properties, props, buffer, at);
	return total;
}
