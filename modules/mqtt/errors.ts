// Every failure of the library, named: callers switch on `error.code`, never on the message.
// Protocol errors come from bytes off the network; usage errors from the API, before a byte is sent.

import { reasonName } from "./reason-codes.js";

export const ErrorCode = {
	// Malformed input from the network (MQTT 3.1.1 §4.8: the receiver closes the connection).
	RESERVED_PACKET_TYPE: "RESERVED_PACKET_TYPE",
	INVALID_FLAGS: "INVALID_FLAGS",
	INVALID_QOS: "INVALID_QOS",
	DUP_WITH_QOS0: "DUP_WITH_QOS0",
	MALFORMED_REMAINING_LENGTH: "MALFORMED_REMAINING_LENGTH",
	LENGTH_MISMATCH: "LENGTH_MISMATCH",
	ZERO_PACKET_ID: "ZERO_PACKET_ID",
	MALFORMED_UTF8: "MALFORMED_UTF8",
	UTF8_NULL_CHARACTER: "UTF8_NULL_CHARACTER",
	UTF8_SURROGATE: "UTF8_SURROGATE",
	WILDCARD_IN_TOPIC: "WILDCARD_IN_TOPIC",
	EMPTY_TOPIC: "EMPTY_TOPIC",
	INVALID_TOPIC_FILTER: "INVALID_TOPIC_FILTER",
	INVALID_SUBACK_CODE: "INVALID_SUBACK_CODE",
	CONNACK_RESERVED_BITS: "CONNACK_RESERVED_BITS",
	INVALID_RETURN_CODE: "INVALID_RETURN_CODE",
	NO_TOPIC_FILTERS: "NO_TOPIC_FILTERS",
	INVALID_REQUESTED_QOS: "INVALID_REQUESTED_QOS",
	INVALID_PROTOCOL_NAME: "INVALID_PROTOCOL_NAME",
	UNSUPPORTED_PROTOCOL_LEVEL: "UNSUPPORTED_PROTOCOL_LEVEL",
	CONNECT_RESERVED_FLAG: "CONNECT_RESERVED_FLAG",
	INVALID_WILL_FLAGS: "INVALID_WILL_FLAGS",
	PASSWORD_WITHOUT_USERNAME: "PASSWORD_WITHOUT_USERNAME",
	EMPTY_CLIENT_ID: "EMPTY_CLIENT_ID",
	PACKET_TOO_LARGE: "PACKET_TOO_LARGE",
	// MQTT 5.0 properties (5.0 §2.2.2); the error's `reasonCode` is what a receiver sends for it.
	MALFORMED_PROPERTIES: "MALFORMED_PROPERTIES",
	UNKNOWN_PROPERTY: "UNKNOWN_PROPERTY",
	PROPERTY_NOT_ALLOWED: "PROPERTY_NOT_ALLOWED",
	DUPLICATE_PROPERTY: "DUPLICATE_PROPERTY",
	INVALID_PROPERTY_VALUE: "INVALID_PROPERTY_VALUE",

	// Protocol violations seen by the session (well-formed packets in the wrong place).
	UNEXPECTED_PACKET: "UNEXPECTED_PACKET",
	UNKNOWN_PACKET_ID: "UNKNOWN_PACKET_ID",
	SUBACK_COUNT_MISMATCH: "SUBACK_COUNT_MISMATCH",
	SESSION_PRESENT_WITH_CLEAN_SESSION: "SESSION_PRESENT_WITH_CLEAN_SESSION",
	INBOUND_QOS2_FULL: "INBOUND_QOS2_FULL",
	/**
	 * A SUBSCRIBE, UNSUBSCRIBE or QoS 1/2 PUBLISH that the broker answered by closing the connection,
	 * each time it was sent alone (`maxAttempts` times): set aside, never sent again. The error names
	 * its `topic` (and `packetId`); brokers that close instead of refusing: RabbitMQ on a forbidden
	 * topic, cloud brokers on what they do not support.
	 */
	REJECTED_BY_BROKER: "REJECTED_BY_BROKER",
	/** MQTT 5.0: a PUBLISH names a topic alias of 0, above the Topic Alias Maximum we announced, or never set (5.0 §3.3.2.3.4). */
	TOPIC_ALIAS_INVALID: "TOPIC_ALIAS_INVALID",
	/** MQTT 5.0: a message marked UTF-8 (Payload Format Indicator 1) whose payload is not (5.0 §3.3.2.3.2). */
	PAYLOAD_FORMAT_INVALID: "PAYLOAD_FORMAT_INVALID",
	/** MQTT 5.0: the broker sent DISCONNECT; `reasonCode` and the message say why, `serverReference` where to go. */
	DISCONNECTED_BY_BROKER: "DISCONNECTED_BY_BROKER",
	/** MQTT 5.0: the broker refused the connection (CONNACK reason code 0x80 and above, other than those named below). */
	CONNECTION_REFUSED_BY_BROKER: "CONNECTION_REFUSED_BY_BROKER",
	/** MQTT 5.0: the broker refused the connection and names another server (0x9C Use another server, 0x9D Server moved). */
	USE_ANOTHER_SERVER: "USE_ANOTHER_SERVER",
	/** MQTT 5.0: enhanced authentication (AUTH) failed or has no handler (5.0 §4.12). */
	AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",

	// CONNACK return codes 1..5.
	UNACCEPTABLE_PROTOCOL_VERSION: "UNACCEPTABLE_PROTOCOL_VERSION",
	IDENTIFIER_REJECTED: "IDENTIFIER_REJECTED",
	SERVER_UNAVAILABLE: "SERVER_UNAVAILABLE",
	BAD_USERNAME_OR_PASSWORD: "BAD_USERNAME_OR_PASSWORD",
	NOT_AUTHORIZED: "NOT_AUTHORIZED",

	// The connection.
	CONNECT_TIMEOUT: "CONNECT_TIMEOUT",
	KEEPALIVE_TIMEOUT: "KEEPALIVE_TIMEOUT",
	CONNECTION_LOST: "CONNECTION_LOST",
	CONNECTION_REFUSED: "CONNECTION_REFUSED",
	HOST_NOT_FOUND: "HOST_NOT_FOUND",
	TLS_ERROR: "TLS_ERROR",

	// Usage: the API was called with something that cannot be sent.
	BUFFER_TOO_SMALL: "BUFFER_TOO_SMALL",
	STRING_TOO_LONG: "STRING_TOO_LONG",
	INVALID_PACKET_ID: "INVALID_PACKET_ID",
	INVALID_ARGUMENT: "INVALID_ARGUMENT",
	CLIENT_CLOSED: "CLIENT_CLOSED",
	QUEUE_FULL: "QUEUE_FULL",
	// MQTT 5.0: what the broker said at CONNACK it does not support, refused before a byte is sent.
	QOS_NOT_SUPPORTED: "QOS_NOT_SUPPORTED",
	RETAIN_NOT_SUPPORTED: "RETAIN_NOT_SUPPORTED",
	WILDCARD_NOT_SUPPORTED: "WILDCARD_NOT_SUPPORTED",
	SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: "SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED",
	SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED",

	// The persistent store (options.store): a snapshot that was ignored, a load or save that threw.
	STORE_CORRUPT: "STORE_CORRUPT",
	STORE_FAILED: "STORE_FAILED",
} as const;

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

export class MqttError extends Error {
	readonly code: ErrorCode;
	/** The topic name or filter the error is about, where there is one (REJECTED_BY_BROKER). */
	topic?: string;
	/** The packet identifier of the message the error is about, where there is one. */
	packetId?: number;
	/** MQTT 5.0: the reason code a receiver sends for this error (0x81 Malformed Packet, 0x82 Protocol Error), where it is one. */
	reasonCode?: number;
	/** MQTT 5.0: the server the broker named (Server Reference, 5.0 §4.11), with USE_ANOTHER_SERVER or DISCONNECTED_BY_BROKER. */
	serverReference?: string;
	constructor(code: ErrorCode, message: string) {
		super(`${code}: ${message}`);
		this.code = code;
	}
}

// Not `this.name = ...` in the constructor: on Moddable, Error.prototype is frozen, and assigning a
// property that a frozen prototype holds as read-only throws in strict code.
Object.defineProperty(MqttError.prototype, "name", { value: "MqttError", writable: true, configurable: true });

/** The CONNACK return code (1..5) as an error code. */
export function connackError(returnCode: number): MqttError {
	switch (returnCode) {
		case 1: return new MqttError(ErrorCode.UNACCEPTABLE_PROTOCOL_VERSION, "CONNACK return code 1: the broker does not accept MQTT 3.1.1 (protocol level 4)");
		case 2: return new MqttError(ErrorCode.IDENTIFIER_REJECTED, "CONNACK return code 2: the broker rejected the client identifier");
		case 3: return new MqttError(ErrorCode.SERVER_UNAVAILABLE, "CONNACK return code 3: the MQTT service is unavailable");
		case 4: return new MqttError(ErrorCode.BAD_USERNAME_OR_PASSWORD, "CONNACK return code 4: bad user name or password");
		default: return new MqttError(ErrorCode.NOT_AUTHORIZED, "CONNACK return code 5: not authorized to connect");
	}
}

/**
 * An MQTT 5.0 CONNACK refusal (reason code 0x80 and above, 5.0 §3.2.2.2) as an error: the codes that
 * mean what a 3.1.1 return code meant keep its error code; `reasonCode` holds the broker's code.
 */
export function connackError5(code: number, reasonString: string | undefined, serverReference: string | undefined): MqttError {
	const name =
		code === 0x84 ? ErrorCode.UNACCEPTABLE_PROTOCOL_VERSION :
		code === 0x85 ? ErrorCode.IDENTIFIER_REJECTED :
		code === 0x86 || code === 0x8C ? ErrorCode.BAD_USERNAME_OR_PASSWORD :
		code === 0x87 || code === 0x8A ? ErrorCode.NOT_AUTHORIZED :
		code === 0x88 || code === 0x89 ? ErrorCode.SERVER_UNAVAILABLE :
		code === 0x9C || code === 0x9D ? ErrorCode.USE_ANOTHER_SERVER :
		ErrorCode.CONNECTION_REFUSED_BY_BROKER;
	const error = new MqttError(name, `CONNACK ${reasonName(code)}${reasonString ? `: ${reasonString}` : ""}${serverReference ? ` (server reference ${serverReference})` : ""}`);
	error.reasonCode = code;
	if (serverReference !== undefined) error.serverReference = serverReference;
	return error;
}
