// Strict decoding of the MQTT 5.0 packets a client receives (OASIS MQTT Version 5.0 chapter 3):
// CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP, DISCONNECT, AUTH.
// As in decode.ts, a reusable view is filled with offsets into the caller's buffer, properties
// included (properties.ts): nothing is allocated per packet. A malformed packet throws an MqttError
// whose `reasonCode` is what to send in the DISCONNECT that closes the connection.

import { ErrorCode, MqttError } from "./errors.js";
import {
	AUTH, CONNACK, DISCONNECT, DUP_FLAG, FLAGS_MASK, PACKET_NAMES, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, QOS_BITS,
	QOS_SHIFT, RETAIN_FLAG, SESSION_PRESENT, SUBACK, TYPE_SHIFT, UNSUBACK,
} from "./constants.js";
import { checkPublishTopic, PacketView } from "./decode.js";
import type { QoS } from "./packet.js";
import { MALFORMED_PACKET, Properties, PROTOCOL_ERROR, Property, readProperties } from "./properties.js";
import { reasonAllowed, reasonName } from "./reason-codes.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength } from "./remaining-length.js";

/** Reason code 0x90, Topic Name invalid (§2.4). */
const TOPIC_NAME_INVALID = 0x90;

/** A decoded MQTT 5.0 packet: the 3.1.1 view, with the reason code and the properties. */
export class PacketView5 extends PacketView {
	/** The reason code (CONNACK, acknowledgements, DISCONNECT, AUTH); 0 when the packet omitted it. */
	reasonCode = 0;
	readonly properties = new Properties();
}

function packetName(type: number): string {
	return type === AUTH ? "AUTH" : PACKET_NAMES[type]!;
}

function malformed5(code: ErrorCode, message: string, reasonCode = MALFORMED_PACKET): MqttError {
	const error = new MqttError(code, message);
	error.reasonCode = reasonCode;
	return error;
}

function reason(type: number, code: number): number {
	if (!reasonAllowed(type, code))
		throw malformed5(ErrorCode.INVALID_RETURN_CODE, `${packetName(type)} cannot carry reason code ${reasonName(code)}`, PROTOCOL_ERROR);
	return code;
}

function readId5(view: PacketView5, buffer: Uint8Array, at: number, type: number): void {
	const id = (buffer[at]! << 8) | buffer[at + 1]!;
	if (id === 0) throw malformed5(ErrorCode.ZERO_PACKET_ID, `${packetName(type)} has packet identifier 0, which is never valid`);
	view.packetId = id;
}

/**
 * Validates the body [start, end) of a packet whose first byte was `firstByte` and fills `view`
 * (a PacketView5). Throws MqttError, with `reasonCode`, when it is malformed.
 */
export function parseBody5(view: PacketView, firstByte: number, buffer: Uint8Array, start: number, end: number): void {
	const v = view as PacketView5;
	const type = firstByte >> TYPE_SHIFT;
	const flags = firstByte & FLAGS_MASK;
	v.type = type;
	v.flags = flags;
	v.buffer = buffer;
	v.bodyStart = start;
	v.bodyEnd = end;
	v.packetId = 0;
	v.oversize = false;
	v.reasonCode = 0;
	const length = end - start;
	switch (type) {
		case PUBLISH: {
			const bits = (flags >> QOS_SHIFT) & QOS_BITS;
			if (bits === 3) throw malformed5(ErrorCode.INVALID_QOS, "PUBLISH has QoS bits 11, which no QoS is");
			const qos = bits as QoS;
			if (qos === 0 && (flags & DUP_FLAG)) throw malformed5(ErrorCode.DUP_WITH_QOS0, "a QoS 0 PUBLISH must have DUP 0");
			v.qos = qos;
			v.dup = (flags & DUP_FLAG) !== 0;
			v.retain = (flags & RETAIN_FLAG) !== 0;
			if (length < 2) throw malformed5(ErrorCode.LENGTH_MISMATCH, "PUBLISH cannot hold a topic name");
			const topicStart = start + 2;
			const topicEnd = topicStart + ((buffer[start]! << 8) | buffer[start + 1]!);
			let at = topicEnd;
			if (qos > 0) {
				if (at + 2 > end) throw malformed5(ErrorCode.LENGTH_MISMATCH, "PUBLISH topic name and packet identifier run past the remaining length");
				readId5(v, buffer, at, type);
				at += 2;
			}
			if (at >= end) throw malformed5(ErrorCode.LENGTH_MISMATCH, "PUBLISH has no property length");
			at = readProperties(buffer, at, end, PUBLISH, v.properties);
			// An empty topic name stands for the topic its alias names (§3.3.2.3.4).
			if (topicEnd > topicStart) {
				try {
					checkPublishTopic(buffer, topicStart, topicEnd);
				}
				catch (error) {
					// Ill-formed UTF-8 is a Malformed Packet (§1.5.4); a wildcard, an invalid Topic Name (§3.3.2.1).
					const e = error as MqttError;
					e.reasonCode = e.code === ErrorCode.WILDCARD_IN_TOPIC ? TOPIC_NAME_INVALID : MALFORMED_PACKET;
					throw e;
				}
			}
			else if (!v.properties.has(Property.TOPIC_ALIAS))
				throw malformed5(ErrorCode.EMPTY_TOPIC, "PUBLISH has an empty topic name and no topic alias", PROTOCOL_ERROR);
			v.topicBuffer = buffer;
			v.topicStart = topicStart;
			v.topicEnd = topicEnd;
			v.payloadStart = at;
			v.payloadEnd = end;
			v.payloadLength = end - at;
			return;
		}
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP: {
			if (length < 2) throw malformed5(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} cannot hold a packet identifier`);
			readId5(v, buffer, start, type);
			// Remaining length 2: success, no properties; 3: a reason code alone (§3.4.2.1, §3.4.2.2.1).
			if (length > 2) v.reasonCode = reason(type, buffer[start + 2]!);
			if (length <= 3) v.properties.clear(buffer);
			else if (readProperties(buffer, start + 3, end, type, v.properties) !== end) trailing(type);
			return;
		}
		case CONNACK: {
			// A 3.1.1 broker refuses a 5.0 CONNECT with its own CONNACK, return code 1 and no properties
			// (3.1.1 §3.2.2.3; mosquitto 1.x, brokers without 5.0): read as 0x84 Unsupported Protocol Version (5.0 §3.1.2.2).
			if (length === 2 && buffer[start] === 0 && buffer[start + 1] === 1) {
				v.sessionPresent = false;
				v.returnCode = v.reasonCode = 0x84;
				v.properties.clear(buffer);
				return;
			}
			if (length < 3) throw malformed5(ErrorCode.LENGTH_MISMATCH, "CONNACK cannot hold its flags, reason code and property length");
			const ack = buffer[start]!;
			if (ack & ~SESSION_PRESENT & 0xFF)
				throw malformed5(ErrorCode.CONNACK_RESERVED_BITS, `CONNACK acknowledge flags must have bits 7..1 clear, not 0x${ack.toString(16)}`);
			const code = reason(type, buffer[start + 1]!);
			if ((ack & SESSION_PRESENT) && code !== 0)
				throw malformed5(ErrorCode.CONNACK_RESERVED_BITS, "CONNACK refusing the connection must have session present 0", PROTOCOL_ERROR);
			v.sessionPresent = (ack & SESSION_PRESENT) !== 0;
			v.returnCode = v.reasonCode = code;
			if (readProperties(buffer, start + 2, end, type, v.properties) !== end) trailing(type);
			return;
		}
		case SUBACK:
		case UNSUBACK: {
			if (length < 3) throw malformed5(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} cannot hold an identifier and a property length`);
			readId5(v, buffer, start, type);
			const codes = readProperties(buffer, start + 2, end, type, v.properties);
			if (codes >= end) throw malformed5(ErrorCode.LENGTH_MISMATCH, `${PACKET_NAMES[type]} has no reason codes`);
			for (let i = codes; i < end; i++) reason(type, buffer[i]!);
			v.payloadStart = codes;
			v.payloadEnd = end;
			return;
		}
		case DISCONNECT:
		case AUTH: {
			// Remaining length 0: success, no properties; 1: a reason code alone (§3.14.2.1, §3.15.2.1).
			if (length > 0) v.reasonCode = reason(type, buffer[start]!);
			if (length <= 1) v.properties.clear(buffer);
			else if (readProperties(buffer, start + 1, end, type, v.properties) !== end) trailing(type);
			return;
		}
		case PINGRESP:
			if (length !== 0) throw malformed5(ErrorCode.LENGTH_MISMATCH, `PINGRESP must have remaining length 0, not ${length}`);
			v.properties.clear(buffer);
			return;
		default:
			throw malformed5(ErrorCode.UNEXPECTED_PACKET, `a broker must not send ${PACKET_NAMES[type]}`, PROTOCOL_ERROR);
	}
}

/** Checks the first byte of an MQTT 5.0 fixed header (type 15 is AUTH; the QoS bits are checked with the body). */
export function checkFirstByte5(first: number): void {
	const type = first >> TYPE_SHIFT;
	if (type === 0) throw malformed5(ErrorCode.RESERVED_PACKET_TYPE, "packet type 0 is reserved");
	const flags = first & FLAGS_MASK;
	if (type !== PUBLISH && flags !== (type === PUBREL || type === 8 || type === 10 ? 2 : 0))
		throw malformed5(ErrorCode.INVALID_FLAGS, `${packetName(type)} has fixed-header flags ${flags.toString(2).padStart(4, "0")}`);
}

function trailing(type: number): never {
	throw malformed5(ErrorCode.LENGTH_MISMATCH, `${packetName(type)} has bytes after its properties`);
}

/**
 * Parses one whole MQTT 5.0 packet at `offset` of a buffer holding [offset, end) into `view`.
 * Returns its size in bytes, or 0 when the buffer ends before the packet does.
 */
export function parsePacket5(view: PacketView5, buffer: Uint8Array, offset: number, end: number): number {
	if (offset >= end) return 0;
	const first = buffer[offset]!;
	checkFirstByte5(first);
	let packed: number;
	try {
		packed = readRemainingLength(buffer, offset + 1, end);
	}
	catch (error) {
		(error as MqttError).reasonCode = MALFORMED_PACKET;
		throw error;
	}
	if (packed < 0) return 0;
	const length = packed & LENGTH_VALUE_MASK;
	const size = 1 + (packed >>> LENGTH_SIZE_SHIFT);
	if (offset + size + length > end) return 0;
	parseBody5(view, first, buffer, offset + size, offset + size + length);
	return size + length;
}
