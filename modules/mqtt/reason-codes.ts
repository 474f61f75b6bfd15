// MQTT 5.0 reason codes (OASIS MQTT Version 5.0 §2.4): their names, and which packets may carry
// each (§3.2.2.2, §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1, §3.9.3, §3.11.3, §3.14.2.1, §3.15.2.1).
// Below 0x80 a reason code reports success; from 0x80 on, failure.

import { AUTH, CONNACK, DISCONNECT, PUBACK, PUBCOMP, PUBREC, PUBREL, SUBACK, UNSUBACK } from "./constants.js";

export const ReasonCode = {
	SUCCESS: 0x00,
	GRANTED_QOS_1: 0x01,
	GRANTED_QOS_2: 0x02,
	DISCONNECT_WITH_WILL: 0x04,
	NO_MATCHING_SUBSCRIBERS: 0x10,
	NO_SUBSCRIPTION_EXISTED: 0x11,
	CONTINUE_AUTHENTICATION: 0x18,
	RE_AUTHENTICATE: 0x19,
	UNSPECIFIED_ERROR: 0x80,
	MALFORMED_PACKET: 0x81,
	PROTOCOL_ERROR: 0x82,
	IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
	UNSUPPORTED_PROTOCOL_VERSION: 0x84,
	CLIENT_IDENTIFIER_NOT_VALID: 0x85,
	BAD_USER_NAME_OR_PASSWORD: 0x86,
	NOT_AUTHORIZED: 0x87,
	SERVER_UNAVAILABLE: 0x88,
	SERVER_BUSY: 0x89,
	BANNED: 0x8A,
	SERVER_SHUTTING_DOWN: 0x8B,
	BAD_AUTHENTICATION_METHOD: 0x8C,
	KEEP_ALIVE_TIMEOUT: 0x8D,
	SESSION_TAKEN_OVER: 0x8E,
	TOPIC_FILTER_INVALID: 0x8F,
	TOPIC_NAME_INVALID: 0x90,
	PACKET_IDENTIFIER_IN_USE: 0x91,
	PACKET_IDENTIFIER_NOT_FOUND: 0x92,
	RECEIVE_MAXIMUM_EXCEEDED: 0x93,
	TOPIC_ALIAS_INVALID: 0x94,
	PACKET_TOO_LARGE: 0x95,
	MESSAGE_RATE_TOO_HIGH: 0x96,
	QUOTA_EXCEEDED: 0x97,
	ADMINISTRATIVE_ACTION: 0x98,
	PAYLOAD_FORMAT_INVALID: 0x99,
	RETAIN_NOT_SUPPORTED: 0x9A,
	QOS_NOT_SUPPORTED: 0x9B,
	USE_ANOTHER_SERVER: 0x9C,
	SERVER_MOVED: 0x9D,
	SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9E,
	CONNECTION_RATE_EXCEEDED: 0x9F,
	MAXIMUM_CONNECT_TIME: 0xA0,
	SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xA1,
	WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xA2,
} as const;

/** A reason code's name, for messages ("0x97 Quota exceeded"). */
export function reasonName(code: number): string {
	for (const [name, value] of Object.entries(ReasonCode)) {
		if (value !== code) continue;
		const words = name.toLowerCase().split("_").join(" ");
		return `0x${code.toString(16).padStart(2, "0")} ${words[0]!.toUpperCase()}${words.slice(1)}`;
	}
	return `0x${code.toString(16).padStart(2, "0")}`;
}

const ALLOWED: Record<number, readonly number[]> = {
	[CONNACK]: [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F],
	[PUBACK]: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
	[PUBREC]: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
	[PUBREL]: [0x00, 0x92],
	[PUBCOMP]: [0x00, 0x92],
	[SUBACK]: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2],
	[UNSUBACK]: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
	[DISCONNECT]: [0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
		0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2],
	[AUTH]: [0x00, 0x18, 0x19],
};

/** One bit per (packet type, reason code) allowed: 256 bits per packet type, looked up without a scan. */
const TABLE = new Uint32Array(16 * 8);
for (const [type, codes] of Object.entries(ALLOWED))
	for (const code of codes) {
		const i = Number(type) * 8 + (code >> 5);
		TABLE[i] = TABLE[i]! | (1 << (code & 31));
	}

/** May packet `type` carry reason code `code`? (Packets without reason codes carry none.) */
export function reasonAllowed(type: number, code: number): boolean {
	return type >= 0 && type < 16 && code >= 0 && code <= 255 && (TABLE[type * 8 + (code >> 5)]! & (1 << (code & 31))) !== 0;
}
