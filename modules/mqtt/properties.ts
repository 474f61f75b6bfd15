// MQTT 5.0 properties (OASIS MQTT Version 5.0 §2.2.2): every identifier of §2.2.2.2 with its type
// and the packets it may appear in; a property block read in place from a packet's bytes (a view:
// nothing is allocated per packet) and written from caller values. Strict where the standard is: an
// unknown identifier, a property not allowed in its packet, one that may appear once appearing twice,
// a length past the block, a value out of its range → an MqttError naming the reason code to send
// (0x81 Malformed Packet, 0x82 Protocol Error).

import { ErrorCode, MqttError } from "./errors.js";
import { AUTH, CONNACK, CONNECT, DISCONNECT, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE } from "./constants.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength, remainingLengthSize, writeRemainingLength } from "./remaining-length.js";
import { checkUtf8, decodeUtf8, utf8Error, utf8Length, writeUtf8 } from "./utf8.js";

/** Property identifiers (§2.2.2.2). */
export const Property = {
	PAYLOAD_FORMAT_INDICATOR: 0x01,
	MESSAGE_EXPIRY_INTERVAL: 0x02,
	CONTENT_TYPE: 0x03,
	RESPONSE_TOPIC: 0x08,
	CORRELATION_DATA: 0x09,
	SUBSCRIPTION_IDENTIFIER: 0x0B,
	SESSION_EXPIRY_INTERVAL: 0x11,
	ASSIGNED_CLIENT_IDENTIFIER: 0x12,
	SERVER_KEEP_ALIVE: 0x13,
	AUTHENTICATION_METHOD: 0x15,
	AUTHENTICATION_DATA: 0x16,
	REQUEST_PROBLEM_INFORMATION: 0x17,
	WILL_DELAY_INTERVAL: 0x18,
	REQUEST_RESPONSE_INFORMATION: 0x19,
	RESPONSE_INFORMATION: 0x1A,
	SERVER_REFERENCE: 0x1C,
	REASON_STRING: 0x1F,
	RECEIVE_MAXIMUM: 0x21,
	TOPIC_ALIAS_MAXIMUM: 0x22,
	TOPIC_ALIAS: 0x23,
	MAXIMUM_QOS: 0x24,
	RETAIN_AVAILABLE: 0x25,
	USER_PROPERTY: 0x26,
	MAXIMUM_PACKET_SIZE: 0x27,
	WILDCARD_SUBSCRIPTION_AVAILABLE: 0x28,
	SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0x29,
	SHARED_SUBSCRIPTION_AVAILABLE: 0x2A,
} as const;

/** The largest property identifier. */
const LAST = 0x2A;

/** Value types (§1.5, §2.2.2.2). */
export const BYTE = 1;
export const TWO_BYTE = 2;
export const FOUR_BYTE = 3;
export const VARIABLE_BYTE = 4;
export const UTF8_STRING = 5;
export const BINARY = 6;
export const STRING_PAIR = 7;

/** Reason codes a receiver sends for bad properties (§2.4). */
export const MALFORMED_PACKET = 0x81;
export const PROTOCOL_ERROR = 0x82;

/** Where a block of properties sits: a packet type (1..15), or the will properties of a CONNECT. */
export const WILL_PROPERTIES = 16;

/** Property identifier → its type (0: no such property). */
const TYPES = new Uint8Array(LAST + 1);
/** Property identifier → a bit per place it may appear: 1 << packet type, 1 << WILL_PROPERTIES. */
const WHERE = new Uint32Array(LAST + 1);
/** Property identifier → its name in the API (`PropertyValues`), as mqtt-packet names it too. */
export const PROPERTY_NAMES: readonly string[] = [];

function define(id: number, type: number, name: string, ...places: number[]): void {
	TYPES[id] = type;
	let bits = 0;
	for (const p of places) bits |= 1 << p;
	WHERE[id] = bits;
	(PROPERTY_NAMES as string[])[id] = name;
}
const W = WILL_PROPERTIES;
define(Property.PAYLOAD_FORMAT_INDICATOR, BYTE, "payloadFormatIndicator", PUBLISH, W);
define(Property.MESSAGE_EXPIRY_INTERVAL, FOUR_BYTE, "messageExpiryInterval", PUBLISH, W);
define(Property.CONTENT_TYPE, UTF8_STRING, "contentType", PUBLISH, W);
define(Property.RESPONSE_TOPIC, UTF8_STRING, "responseTopic", PUBLISH, W);
define(Property.CORRELATION_DATA, BINARY, "correlationData", PUBLISH, W);
define(Property.SUBSCRIPTION_IDENTIFIER, VARIABLE_BYTE, "subscriptionIdentifier", PUBLISH, SUBSCRIBE);
define(Property.SESSION_EXPIRY_INTERVAL, FOUR_BYTE, "sessionExpiryInterval", CONNECT, CONNACK, DISCONNECT);
define(Property.ASSIGNED_CLIENT_IDENTIFIER, UTF8_STRING, "assignedClientIdentifier", CONNACK);
define(Property.SERVER_KEEP_ALIVE, TWO_BYTE, "serverKeepAlive", CONNACK);
define(Property.AUTHENTICATION_METHOD, UTF8_STRING, "authenticationMethod", CONNECT, CONNACK, AUTH);
define(Property.AUTHENTICATION_DATA, BINARY, "authenticationData", CONNECT, CONNACK, AUTH);
define(Property.REQUEST_PROBLEM_INFORMATION, BYTE, "requestProblemInformation", CONNECT);
define(Property.WILL_DELAY_INTERVAL, FOUR_BYTE, "willDelayInterval", W);
define(Property.REQUEST_RESPONSE_INFORMATION, BYTE, "requestResponseInformation", CONNECT);
define(Property.RESPONSE_INFORMATION, UTF8_STRING, "responseInformation", CONNACK);
define(Property.SERVER_REFERENCE, UTF8_STRING, "serverReference", CONNACK, DISCONNECT);
define(Property.REASON_STRING, UTF8_STRING, "reasonString", CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH);
define(Property.RECEIVE_MAXIMUM, TWO_BYTE, "receiveMaximum", CONNECT, CONNACK);
define(Property.TOPIC_ALIAS_MAXIMUM, TWO_BYTE, "topicAliasMaximum", CONNECT, CONNACK);
define(Property.TOPIC_ALIAS, TWO_BYTE, "topicAlias", PUBLISH);
define(Property.MAXIMUM_QOS, BYTE, "maximumQoS", CONNACK);
define(Property.RETAIN_AVAILABLE, BYTE, "retainAvailable", CONNACK);
define(Property.USER_PROPERTY, STRING_PAIR, "userProperties", CONNECT, CONNACK, PUBLISH, W, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH);
define(Property.MAXIMUM_PACKET_SIZE, FOUR_BYTE, "maximumPacketSize", CONNECT, CONNACK);
define(Property.WILDCARD_SUBSCRIPTION_AVAILABLE, BYTE, "wildcardSubscriptionAvailable", CONNACK);
define(Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE, BYTE, "subscriptionIdentifiersAvailable", CONNACK);
define(Property.SHARED_SUBSCRIPTION_AVAILABLE, BYTE, "sharedSubscriptionAvailable", CONNACK);

/** The type of property `id`, or 0 when there is no such property. */
export function propertyType(id: number): number {
	return id > 0 && id <= LAST ? TYPES[id]! : 0;
}

/** May property `id` appear where `place` (a packet type, or WILL_PROPERTIES) says? */
export function propertyAllowed(id: number, place: number): boolean {
	return id > 0 && id <= LAST && (WHERE[id]! & (1 << place)) !== 0;
}

/** A bad property block: the typed error, with the reason code a receiver sends for it. */
function bad(code: ErrorCode, reasonCode: number, message: string): MqttError {
	const error = new MqttError(code, message);
	error.reasonCode = reasonCode;
	return error;
}

function placeName(place: number): string {
	return place === WILL_PROPERTIES ? "will properties" : `packet type ${place}`;
}

const EMPTY = new Uint8Array(0);

/**
 * A block of properties read in place: `at[id]` is where the value of property `id` starts in
 * `buffer` (its last occurrence for those that may repeat), or -1. Strings and binary data are read
 * as [start, end) of `buffer`, without a copy; `string()` and `bytes()` make one when asked.
 */
export class Properties {
	buffer: Uint8Array = EMPTY;
	/** The properties' bytes are buffer[start, end) (after the length). */
	start = 0;
	end = 0;
	readonly at = new Int32Array(LAST + 1).fill(-1);
	/** How many user properties, and subscription identifiers, the block holds. */
	userProperties = 0;
	subscriptionIdentifiers = 0;

	/** Empty (a packet without properties). */
	clear(buffer: Uint8Array): void {
		this.buffer = buffer;
		this.start = this.end = 0;
		this.at.fill(-1);
		this.userProperties = this.subscriptionIdentifiers = 0;
	}

	has(id: number): boolean {
		return this.at[id]! >= 0;
	}

	/** A byte, two-, four- or variable byte integer property, or `otherwise` when absent. */
	number(id: number, otherwise: number): number {
		const at = this.at[id]!;
		return at < 0 ? otherwise : readNumber(this.buffer, at, TYPES[id]!);
	}

	/** Where a string or binary property's bytes start (after their length), or -1 when absent. */
	valueStart(id: number): number {
		const at = this.at[id]!;
		return at < 0 ? -1 : at + 2;
	}

	/** Where they end. */
	valueEnd(id: number): number {
		const at = this.at[id]!;
		return at < 0 ? -1 : at + 2 + ((this.buffer[at]! << 8) | this.buffer[at + 1]!);
	}

	/** A string property as a string (allocates), or undefined when absent. */
	string(id: number): string | undefined {
		const start = this.valueStart(id);
		return start < 0 ? undefined : decodeUtf8(this.buffer, start, this.valueEnd(id));
	}

	/** A binary property copied out (allocates), or undefined when absent. */
	bytes(id: number): Uint8Array | undefined {
		const start = this.valueStart(id);
		return start < 0 ? undefined : this.buffer.slice(start, this.valueEnd(id));
	}

	/**
	 * Where the next property `id` after offset `from` starts (its value, after the identifier), or -1:
	 * for the properties that may repeat (user properties, subscription identifiers). Start with
	 * `from` = -1.
	 */
	next(id: number, from: number): number {
		const buffer = this.buffer;
		let p = this.start;
		while (p < this.end) {
			const pid = buffer[p]!;
			const value = p + 1;
			if (pid === id && value > from) return value;
			p = value + valueLength(buffer, value, TYPES[pid]!);
		}
		return -1;
	}

	/**
	 * Does a number property that may repeat (a subscription identifier in a PUBLISH) appear with
	 * `value`? Allocates nothing.
	 */
	includes(id: number, value: number): boolean {
		const type = TYPES[id]!;
		for (let p = this.next(id, -1); p >= 0; p = this.next(id, p)) if (readNumber(this.buffer, p, type) === value) return true;
		return false;
	}

	/** Every value of a number property that may repeat, in order (allocates): the subscription identifiers of a PUBLISH. */
	numbers(id: number): number[] {
		const values: number[] = [];
		const type = TYPES[id]!;
		for (let p = this.next(id, -1); p >= 0; p = this.next(id, p)) values.push(readNumber(this.buffer, p, type));
		return values;
	}

	/** The user properties as [name, value] pairs (allocates). */
	userPairs(): Array<[string, string]> {
		const pairs: Array<[string, string]> = [];
		const buffer = this.buffer;
		for (let p = this.next(Property.USER_PROPERTY, -1); p >= 0; p = this.next(Property.USER_PROPERTY, p)) {
			const nameEnd = p + 2 + ((buffer[p]! << 8) | buffer[p + 1]!);
			const valueEnd = nameEnd + 2 + ((buffer[nameEnd]! << 8) | buffer[nameEnd + 1]!);
			pairs.push([decodeUtf8(buffer, p + 2, nameEnd), decodeUtf8(buffer, nameEnd + 2, valueEnd)]);
		}
		return pairs;
	}
}

/** A number property's value at `at`. */
function readNumber(buffer: Uint8Array, at: number, type: number): number {
	switch (type) {
		case BYTE: return buffer[at]!;
		case TWO_BYTE: return (buffer[at]! << 8) | buffer[at + 1]!;
		case FOUR_BYTE: return ((buffer[at]! << 24) | (buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!) >>> 0;
		default: return readRemainingLength(buffer, at, buffer.length) & LENGTH_VALUE_MASK;
	}
}

/** Bytes of a value of `type` at `at` (already checked to lie within its block). */
function valueLength(buffer: Uint8Array, at: number, type: number): number {
	switch (type) {
		case BYTE: return 1;
		case TWO_BYTE: return 2;
		case FOUR_BYTE: return 4;
		case VARIABLE_BYTE: return readRemainingLength(buffer, at, buffer.length) >>> LENGTH_SIZE_SHIFT;
		case STRING_PAIR: {
			const second = at + 2 + ((buffer[at]! << 8) | buffer[at + 1]!);
			return second + 2 + ((buffer[second]! << 8) | buffer[second + 1]!) - at;
		}
		default: return 2 + ((buffer[at]! << 8) | buffer[at + 1]!);
	}
}

/**
 * Reads the property block at `offset` (its variable byte integer length, then the properties) of a
 * packet whose bytes end at `end`, into `out`, checking every rule for `place` (a packet type, or
 * WILL_PROPERTIES). Returns the offset after the block. Throws an MqttError with `reasonCode`.
 */
export function readProperties(buffer: Uint8Array, offset: number, end: number, place: number, out: Properties): number {
	out.clear(buffer);
	let packed: number;
	try {
		packed = readRemainingLength(buffer, offset, end);
	}
	catch {
		throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, "the property length has a fifth byte");
	}
	if (packed < 0) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, "the property length runs past the packet");
	const start = offset + (packed >>> LENGTH_SIZE_SHIFT);
	const stop = start + (packed & LENGTH_VALUE_MASK);
	if (stop > end) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, `the properties (${packed & LENGTH_VALUE_MASK} bytes) run past the packet`);
	out.start = start;
	out.end = stop;
	const at = out.at;
	let p = start;
	while (p < stop) {
		const id = buffer[p]!;
		const type = id <= LAST ? TYPES[id]! : 0;
		if (type === 0) throw bad(ErrorCode.UNKNOWN_PROPERTY, MALFORMED_PACKET, `property identifier 0x${id.toString(16)} does not exist`);
		// "An Identifier which is not valid for its packet type ... is a Malformed Packet" (5.0 §2.2.2.2).
		if ((WHERE[id]! & (1 << place)) === 0)
			throw bad(ErrorCode.PROPERTY_NOT_ALLOWED, MALFORMED_PACKET, `${PROPERTY_NAMES[id]} (0x${id.toString(16)}) may not appear in ${placeName(place)}`);
		const value = p + 1;
		let size: number;
		switch (type) {
			case BYTE: size = 1; break;
			case TWO_BYTE: size = 2; break;
			case FOUR_BYTE: size = 4; break;
			case VARIABLE_BYTE: {
				let v: number;
				try {
					v = readRemainingLength(buffer, value, stop);
				}
				catch {
					throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, `${PROPERTY_NAMES[id]} has a fifth byte`);
				}
				if (v < 0) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, `${PROPERTY_NAMES[id]} runs past the properties`);
				size = v >>> LENGTH_SIZE_SHIFT;
				break;
			}
			case STRING_PAIR: {
				if (value + 2 > stop) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, "a user property runs past the properties");
				const second = value + 2 + ((buffer[value]! << 8) | buffer[value + 1]!);
				if (second + 2 > stop) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, "a user property runs past the properties");
				size = second + 2 + ((buffer[second]! << 8) | buffer[second + 1]!) - value;
				break;
			}
			default:
				if (value + 2 > stop) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, `${PROPERTY_NAMES[id]} runs past the properties`);
				size = 2 + ((buffer[value]! << 8) | buffer[value + 1]!);
		}
		if (value + size > stop) throw bad(ErrorCode.MALFORMED_PROPERTIES, MALFORMED_PACKET, `${PROPERTY_NAMES[id]} runs past the properties`);
		// Only user properties repeat, and subscription identifiers in a PUBLISH (§3.3.2.3.8).
		if (id === Property.USER_PROPERTY) out.userProperties++;
		else if (id === Property.SUBSCRIPTION_IDENTIFIER && place === PUBLISH) out.subscriptionIdentifiers++;
		else if (at[id]! >= 0) throw bad(ErrorCode.DUPLICATE_PROPERTY, PROTOCOL_ERROR, `${PROPERTY_NAMES[id]} appears more than once`);
		at[id] = value;
		checkValue(buffer, id, type, value, size);
		p = value + size;
	}
	return stop;
}

/** The rules on a property's value (§3: its range; strings well formed). */
function checkValue(buffer: Uint8Array, id: number, type: number, value: number, size: number): void {
	if (type === UTF8_STRING) {
		const code = checkUtf8(buffer, value + 2, value + size);
		if (code !== 0) throw withReason(utf8Error(code, PROPERTY_NAMES[id]!), MALFORMED_PACKET);
		return;
	}
	if (type === STRING_PAIR) {
		const second = value + 2 + ((buffer[value]! << 8) | buffer[value + 1]!);
		let code = checkUtf8(buffer, value + 2, second);
		if (code === 0) code = checkUtf8(buffer, second + 2, value + size);
		if (code !== 0) throw withReason(utf8Error(code, "a user property"), MALFORMED_PACKET);
		return;
	}
	if (type === BINARY) return;
	const n = readNumber(buffer, value, type);
	switch (id) {
		case Property.PAYLOAD_FORMAT_INDICATOR:
		case Property.REQUEST_PROBLEM_INFORMATION:
		case Property.REQUEST_RESPONSE_INFORMATION:
		case Property.MAXIMUM_QOS:
		case Property.RETAIN_AVAILABLE:
		case Property.WILDCARD_SUBSCRIPTION_AVAILABLE:
		case Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE:
		case Property.SHARED_SUBSCRIPTION_AVAILABLE:
			if (n > 1) throw bad(ErrorCode.INVALID_PROPERTY_VALUE, PROTOCOL_ERROR, `${PROPERTY_NAMES[id]} must be 0 or 1, not ${n}`);
			return;
		case Property.RECEIVE_MAXIMUM:
		case Property.MAXIMUM_PACKET_SIZE:
		case Property.TOPIC_ALIAS:
		case Property.SUBSCRIPTION_IDENTIFIER:
			if (n === 0) throw bad(ErrorCode.INVALID_PROPERTY_VALUE, PROTOCOL_ERROR, `${PROPERTY_NAMES[id]} must not be 0`);
			return;
	}
}

function withReason(error: MqttError, reasonCode: number): MqttError {
	error.reasonCode = reasonCode;
	return error;
}

// ---- writing ---------------------------------------------------------------------------------

/**
 * Property values to write, named as in mqtt-packet. A byte property takes a number or a boolean;
 * `userProperties` takes [name, value] pairs; `subscriptionIdentifier` one number (a PUBLISH from a
 * client carries none).
 */
export interface PropertyValues {
	payloadFormatIndicator?: number | boolean;
	messageExpiryInterval?: number;
	contentType?: string;
	responseTopic?: string;
	correlationData?: Uint8Array;
	subscriptionIdentifier?: number;
	sessionExpiryInterval?: number;
	assignedClientIdentifier?: string;
	serverKeepAlive?: number;
	authenticationMethod?: string;
	authenticationData?: Uint8Array;
	requestProblemInformation?: number | boolean;
	willDelayInterval?: number;
	requestResponseInformation?: number | boolean;
	responseInformation?: string;
	serverReference?: string;
	reasonString?: string;
	receiveMaximum?: number;
	topicAliasMaximum?: number;
	topicAlias?: number;
	maximumQoS?: number;
	retainAvailable?: number | boolean;
	userProperties?: ReadonlyArray<readonly [string, string]>;
	maximumPacketSize?: number;
	wildcardSubscriptionAvailable?: number | boolean;
	subscriptionIdentifiersAvailable?: number | boolean;
	sharedSubscriptionAvailable?: number | boolean;
}

/** The identifiers in the order they are written. */
const ORDER: readonly number[] = Object.values(Property).filter((id) => id !== Property.USER_PROPERTY);

/** A value from the API, checked against its type and range; throws INVALID_ARGUMENT. */
function checkArgument(id: number, value: unknown, place: number): number {
	const name = PROPERTY_NAMES[id]!;
	if ((WHERE[id]! & (1 << place)) === 0)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} may not be sent in ${placeName(place)}`);
	const type = TYPES[id]!;
	if (type === UTF8_STRING) {
		if (typeof value !== "string") throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must be a string`);
		const n = utf8Length(value, true);
		if (n > 65_535) throw new MqttError(ErrorCode.STRING_TOO_LONG, `${name} is ${n} bytes of UTF-8; at most 65,535 fit`);
		return 2 + n;
	}
	if (type === BINARY) {
		if (!(value instanceof Uint8Array)) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must be a Uint8Array`);
		if (value.length > 65_535) throw new MqttError(ErrorCode.STRING_TOO_LONG, `${name} is ${value.length} bytes; at most 65,535 fit`);
		return 2 + value.length;
	}
	const n = typeof value === "boolean" && type === BYTE ? (value ? 1 : 0) : value;
	const max = type === BYTE ? 255 : type === TWO_BYTE ? 65_535 : type === FOUR_BYTE ? 4_294_967_295 : 268_435_455;
	if (typeof n !== "number" || !(n >= 0 && n <= max) || Math.floor(n) !== n)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer in 0..${max}, not ${String(value)}`);
	const zeroForbidden = id === Property.RECEIVE_MAXIMUM || id === Property.MAXIMUM_PACKET_SIZE || id === Property.TOPIC_ALIAS || id === Property.SUBSCRIPTION_IDENTIFIER;
	if (n === 0 && zeroForbidden) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must not be 0`);
	const binary = type === BYTE && id !== Property.MAXIMUM_QOS ? 1 : max;
	if (type === BYTE && n > binary) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must be 0 or 1, not ${n}`);
	if (id === Property.MAXIMUM_QOS && n > 1) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `maximumQoS must be 0 or 1, not ${n}`);
	return type === BYTE ? 1 : type === TWO_BYTE ? 2 : type === FOUR_BYTE ? 4 : remainingLengthSize(n);
}

/**
 * Bytes of the property block for `values` where `place` says (a packet type, or WILL_PROPERTIES),
 * without its length prefix. Validates every value; throws before anything is written.
 */
export function propertiesLength(values: PropertyValues | undefined, place: number): number {
	if (values === undefined) return 0;
	const record = values as Record<string, unknown>;
	let n = 0;
	for (let k = 0; k < ORDER.length; k++) {
		const id = ORDER[k]!;
		const value = record[PROPERTY_NAMES[id]!];
		if (value !== undefined) n += 1 + checkArgument(id, value, place);
	}
	const pairs = values.userProperties;
	if (pairs !== undefined) {
		if ((WHERE[Property.USER_PROPERTY]! & (1 << place)) === 0)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, `userProperties may not be sent in ${placeName(place)}`);
		for (let k = 0; k < pairs.length; k++) {
			const pair = pairs[k]!;
			if (!pair || typeof pair[0] !== "string" || typeof pair[1] !== "string")
				throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a user property must be a [name, value] pair of strings");
			const a = utf8Length(pair[0], true);
			const b = utf8Length(pair[1], true);
			if (a > 65_535 || b > 65_535) throw new MqttError(ErrorCode.STRING_TOO_LONG, "a user property's name or value is longer than 65,535 bytes");
			n += 1 + 2 + a + 2 + b;
		}
	}
	return n;
}

/** Bytes of the block with its length prefix. */
export function propertiesSize(length: number): number {
	return remainingLengthSize(length) + length;
}

/**
 * Writes the property block (its length, then the properties) for `values`, measured by
 * `propertiesLength` as `length`, at `offset`; returns the offset after it.
 */
export function writeProperties(values: PropertyValues | undefined, length: number, buffer: Uint8Array, offset: number): number {
	const at = writeRemainingLength(length, buffer, offset);
	return values === undefined ? at : writePropertyValues(values, buffer, at);
}

/** Writes the properties of `values` (checked by `propertiesLength`), without the block's length, at `offset`; returns the offset after them. */
export function writePropertyValues(values: PropertyValues, buffer: Uint8Array, offset: number): number {
	let at = offset;
	const record = values as Record<string, unknown>;
	for (let k = 0; k < ORDER.length; k++) {
		const id = ORDER[k]!;
		const value = record[PROPERTY_NAMES[id]!];
		if (value === undefined) continue;
		buffer[at++] = id;
		const type = TYPES[id]!;
		if (type === UTF8_STRING) at = writeString(value as string, buffer, at);
		else if (type === BINARY) {
			const bytes = value as Uint8Array;
			buffer[at++] = bytes.length >> 8;
			buffer[at++] = bytes.length & 0xFF;
			buffer.set(bytes, at);
			at += bytes.length;
		}
		else {
			const n = typeof value === "boolean" ? (value ? 1 : 0) : value as number;
			if (type === BYTE) buffer[at++] = n;
			else if (type === TWO_BYTE) {
				buffer[at++] = n >> 8;
				buffer[at++] = n & 0xFF;
			}
			else if (type === FOUR_BYTE) {
				buffer[at++] = n >>> 24;
				buffer[at++] = (n >>> 16) & 0xFF;
				buffer[at++] = (n >>> 8) & 0xFF;
				buffer[at++] = n & 0xFF;
			}
			else at = writeRemainingLength(n, buffer, at);
		}
	}
	const pairs = values.userProperties;
	if (pairs !== undefined) {
		for (let k = 0; k < pairs.length; k++) {
			const pair = pairs[k]!;
			buffer[at++] = Property.USER_PROPERTY;
			at = writeString(pair[0], buffer, at);
			at = writeString(pair[1], buffer, at);
		}
	}
	return at;
}

function writeString(text: string, buffer: Uint8Array, at: number): number {
	const n = utf8Length(text, true);
	buffer[at] = n >> 8;
	buffer[at + 1] = n & 0xFF;
	return writeUtf8(text, buffer, at + 2);
}
