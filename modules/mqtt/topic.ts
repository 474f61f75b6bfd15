// Topic names and topic filters (§4.7): validation, and matching with `+`, `#` and `$`-topics,
// over strings (API) or over UTF-8 bytes in a receive buffer (no string is made to match).

import { ErrorCode, MqttError } from "./errors.js";
import { MAX_STRING_BYTES } from "./packet.js";
import { charCode, utf8Length } from "./utf8.js";

const SLASH = 0x2F;
const PLUS = 0x2B;
const HASH = 0x23;
const DOLLAR = 0x24;

/**
 * `String.prototype.indexOf`, called as `indexOf.call(text, search)`: a native scan, without the
 * wrapper object XS makes when a method is read from a primitive string (see `charCode`).
 */
const indexOf = String.prototype.indexOf;

/** Nothing to write into: topicNameBytes only counts. */
const NOWHERE = new Uint8Array(0);

/**
 * Validates a topic name (non-empty, no wildcard, MQTT string rules) and returns its UTF-8 bytes,
 * in one pass over the string.
 */
export function topicNameBytes(topic: string, what = "a topic name"): number {
	return writeTopicName(topic, NOWHERE, 0, 0, what);
}

/**
 * Validates a topic name and writes its UTF-8 at `offset` in the same pass, as long as it fits
 * within `room` bytes (beyond that it only counts); returns its length in bytes. One pass: a
 * topic is checked and encoded at the cost of reading it once.
 */
export function writeTopicName(topic: string, buffer: Uint8Array, offset: number, room: number, what = "a topic name"): number {
	if (typeof topic !== "string")
		throw new MqttError(ErrorCode.EMPTY_TOPIC, `${what} must be a non-empty string`);
	// The characters a name must not hold, found by native scans (a JavaScript loop costs far more).
	if (indexOf.call(topic, "+") >= 0 || indexOf.call(topic, "#") >= 0)
		throw new MqttError(ErrorCode.WILDCARD_IN_TOPIC, `${what} "${topic}" contains a wildcard (+ or #), which only topic filters may`);
	if (indexOf.call(topic, "\0") >= 0)
		throw new MqttError(ErrorCode.UTF8_NULL_CHARACTER, "an MQTT string must not contain U+0000");
	const end = offset + room;
	let at = offset;
	for (let i = 0; ; i++) {
		let c = charCode.call(topic, i);
		if (c < 0x80) {
			if (at < end) buffer[at] = c;
			at++;
		}
		else if (c !== c) break;
		else if (c < 0x800) {
			if (at + 2 <= end) {
				buffer[at] = 0xC0 | (c >> 6);
				buffer[at + 1] = 0x80 | (c & 0x3F);
			}
			at += 2;
		}
		else if (c >= 0xD800 && c <= 0xDFFF) {
			const d = c <= 0xDBFF ? charCode.call(topic, i + 1) : 0;
			if (!(d >= 0xDC00 && d <= 0xDFFF))
				throw new MqttError(ErrorCode.UTF8_SURROGATE, "an MQTT string must not contain an unpaired surrogate code point");
			c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
			if (at + 4 <= end) {
				buffer[at] = 0xF0 | (c >> 18);
				buffer[at + 1] = 0x80 | ((c >> 12) & 0x3F);
				buffer[at + 2] = 0x80 | ((c >> 6) & 0x3F);
				buffer[at + 3] = 0x80 | (c & 0x3F);
			}
			at += 4;
			i++;
		}
		else {
			if (at + 3 <= end) {
				buffer[at] = 0xE0 | (c >> 12);
				buffer[at + 1] = 0x80 | ((c >> 6) & 0x3F);
				buffer[at + 2] = 0x80 | (c & 0x3F);
			}
			at += 3;
		}
	}
	const bytes = at - offset;
	if (bytes === 0)
		throw new MqttError(ErrorCode.EMPTY_TOPIC, `${what} must be a non-empty string`);
	if (bytes > MAX_STRING_BYTES)
		throw new MqttError(ErrorCode.STRING_TOO_LONG, `${what} is ${bytes} bytes of UTF-8; at most 65,535 fit`);
	return bytes;
}

/** Throws unless `topic` can be a PUBLISH topic name. */
export function validateTopicName(topic: string): void {
	topicNameBytes(topic);
}

/** Throws INVALID_TOPIC_FILTER unless `filter` is a valid topic filter. */
export function validateTopicFilter(filter: string): void {
	if (typeof filter !== "string" || filter.length === 0)
		throw new MqttError(ErrorCode.INVALID_TOPIC_FILTER, "a topic filter must be a non-empty string");
	const rule = filterRule(filter.length, (i) => filter.charCodeAt(i));
	if (rule)
		throw new MqttError(ErrorCode.INVALID_TOPIC_FILTER, `topic filter "${filter}": ${rule}`);
	if (utf8Length(filter, true) > MAX_STRING_BYTES)
		throw new MqttError(ErrorCode.STRING_TOO_LONG, "a topic filter is at most 65,535 bytes of UTF-8");
}

/** The filter rule that bytes [start, end) break, or "" when they form a valid filter. */
export function checkTopicFilterBytes(buffer: Uint8Array, start: number, end: number): string {
	if (end <= start) return "a topic filter must not be empty";
	for (let i = start; i < end; i++) {
		const c = buffer[i]!;
		if (c === PLUS || c === HASH) return filterRule(end - start, (k) => buffer[start + k]!);
	}
	return "";
}

function filterRule(length: number, at: (i: number) => number): string {
	for (let i = 0; i < length; i++) {
		const c = at(i);
		if (c === HASH) {
			if (i !== length - 1) return "# must be the last character";
			if (i > 0 && at(i - 1) !== SLASH) return "# must be alone in its level";
		}
		else if (c === PLUS) {
			if (i > 0 && at(i - 1) !== SLASH) return "+ must be alone in its level";
			if (i < length - 1 && at(i + 1) !== SLASH) return "+ must be alone in its level";
		}
	}
	return "";
}

/** True when bytes [start, end) hold a wildcard character. */
export function hasWildcard(buffer: Uint8Array, start: number, end: number): boolean {
	for (let i = start; i < end; i++) {
		const c = buffer[i]!;
		if (c === PLUS || c === HASH) return true;
	}
	return false;
}

/** Does the (valid) `filter` match the topic name `topic`? (No allocation; see `charCode`.) */
export function topicMatches(filter: string, topic: string): boolean {
	if (charCode.call(topic, 0) === DOLLAR) {
		const f0 = charCode.call(filter, 0);
		if (f0 === PLUS || f0 === HASH) return false;
	}
	let fi = 0;
	let ti = 0;
	for (;;) {
		const fc = charCode.call(filter, fi);
		let tc = charCode.call(topic, ti);
		if (fc !== fc) return tc !== tc;
		if (fc === HASH) return true;
		if (fc === PLUS) {
			while (tc === tc && tc !== SLASH) tc = charCode.call(topic, ++ti);
			fi++;
			continue;
		}
		if (tc !== tc) {
			const end = charCode.call(filter, fi + 2);
			return fc === SLASH && charCode.call(filter, fi + 1) === HASH && end !== end;
		}
		if (fc !== tc) return false;
		fi++;
		ti++;
	}
}

/**
 * `topicMatches` over UTF-8: the filter's bytes [0, filterLength) against the topic's bytes
 * [start, end) of a receive buffer. Byte for byte, as the standard compares them.
 */
export function topicMatchesBytes(filter: Uint8Array, filterLength: number, topic: Uint8Array, start: number, end: number): boolean {
	if (end > start && topic[start] === DOLLAR && filterLength > 0) {
		const f0 = filter[0];
		if (f0 === PLUS || f0 === HASH) return false;
	}
	let fi = 0;
	let ti = start;
	for (;;) {
		if (fi === filterLength) return ti === end;
		const fc = filter[fi]!;
		if (fc === HASH) return true;
		if (fc === PLUS) {
			while (ti < end && topic[ti] !== SLASH) ti++;
			fi++;
			continue;
		}
		if (ti === end)
			return fc === SLASH && fi + 2 === filterLength && filter[fi + 1] === HASH;
		if (fc !== topic[ti]) return false;
		fi++;
		ti++;
	}
}
