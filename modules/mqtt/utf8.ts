// UTF-8 straight between JS strings and caller-owned bytes, with MQTT's rules for strings
// (§1.5.3: well-formed, no U+0000, no surrogate code points). No TextEncoder, no intermediate arrays.

import { ErrorCode, MqttError } from "./errors.js";

/**
 * `String.prototype.charCodeAt`, always called as `charCode.call(text, i)`. In XS, reading any
 * property of a primitive string (even `length`) makes a wrapper object; a call with the string
 * as `this` does not. Past the end it returns NaN, which is how loops here find the end.
 */
export const charCode = String.prototype.charCodeAt;

/** True for "" (without reading `length`; see `charCode`). */
export function isEmptyString(text: string): boolean {
	const c = charCode.call(text, 0);
	return c !== c;
}

/**
 * Bytes `text` takes as UTF-8. `strict` applies MQTT's string rules and throws on U+0000 and
 * unpaired surrogates; otherwise (payloads) an unpaired surrogate counts as U+FFFD.
 */
export function utf8Length(text: string, strict: boolean): number {
	let bytes = 0;
	for (let i = 0; ; i++) {
		const c = charCode.call(text, i);
		if (c !== c) return bytes;
		if (c < 0x80) {
			if (c === 0 && strict)
				throw new MqttError(ErrorCode.UTF8_NULL_CHARACTER, "an MQTT string must not contain U+0000");
			bytes += 1;
		}
		else if (c < 0x800)
			bytes += 2;
		else if (c >= 0xD800 && c <= 0xDFFF) {
			if (c <= 0xDBFF) {
				const d = charCode.call(text, i + 1);
				if (d >= 0xDC00 && d <= 0xDFFF) {
					bytes += 4;
					i++;
					continue;
				}
			}
			if (strict)
				throw new MqttError(ErrorCode.UTF8_SURROGATE, "an MQTT string must not contain an unpaired surrogate code point");
			bytes += 3;
		}
		else
			bytes += 3;
	}
}

/** Writes `text` as UTF-8 at `offset` and returns the offset after it. The caller has checked the room. */
export function writeUtf8(text: string, buffer: Uint8Array, offset: number): number {
	for (let i = 0; ; i++) {
		let c = charCode.call(text, i);
		if (c !== c) return offset;
		if (c < 0x80)
			buffer[offset++] = c;
		else if (c < 0x800) {
			buffer[offset++] = 0xC0 | (c >> 6);
			buffer[offset++] = 0x80 | (c & 0x3F);
		}
		else {
			if (c >= 0xD800 && c <= 0xDFFF) {
				const d = c <= 0xDBFF ? charCode.call(text, i + 1) : 0;
				if (d >= 0xDC00 && d <= 0xDFFF) {
					c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
					i++;
					buffer[offset++] = 0xF0 | (c >> 18);
					buffer[offset++] = 0x80 | ((c >> 12) & 0x3F);
					buffer[offset++] = 0x80 | ((c >> 6) & 0x3F);
					buffer[offset++] = 0x80 | (c & 0x3F);
					continue;
				}
				c = 0xFFFD;
			}
			buffer[offset++] = 0xE0 | (c >> 12);
			buffer[offset++] = 0x80 | ((c >> 6) & 0x3F);
			buffer[offset++] = 0x80 | (c & 0x3F);
		}
	}
}

/**
 * Checks bytes [start, end) against MQTT's string rules (`allowNull`: U+0000 too, as in a payload
 * marked UTF-8, which is character data, not an MQTT string: 5.0 §3.3.2.3.2). Returns 0 when they are well formed,
 * otherwise the error code of the first rule broken (no exception, no allocation).
 */
export function checkUtf8(buffer: Uint8Array, start: number, end: number, allowNull = false): 0 | ErrorCode {
	let i = start;
	while (i < end) {
		const b = buffer[i]!;
		if (b < 0x80) {
			if (b === 0 && !allowNull) return ErrorCode.UTF8_NULL_CHARACTER;
			i++;
			continue;
		}
		let need: number;
		let min: number;
		let cp: number;
		if (b >= 0xC2 && b <= 0xDF) { need = 1; min = 0x80; cp = b & 0x1F; }
		else if (b >= 0xE0 && b <= 0xEF) { need = 2; min = 0x800; cp = b & 0x0F; }
		else if (b >= 0xF0 && b <= 0xF4) { need = 3; min = 0x10000; cp = b & 0x07; }
		else return ErrorCode.MALFORMED_UTF8;
		if (i + need >= end) return ErrorCode.MALFORMED_UTF8;
		for (let k = 1; k <= need; k++) {
			const c = buffer[i + k]!;
			if ((c & 0xC0) !== 0x80) return ErrorCode.MALFORMED_UTF8;
			cp = (cp << 6) | (c & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF) return ErrorCode.MALFORMED_UTF8;
		if (cp >= 0xD800 && cp <= 0xDFFF) return ErrorCode.UTF8_SURROGATE;
		i += need + 1;
	}
	return 0;
}

/** `checkUtf8`, throwing the typed error it names. */
export function validateUtf8(buffer: Uint8Array, start: number, end: number, what: string): void {
	const code = checkUtf8(buffer, start, end);
	if (code !== 0) throw utf8Error(code, what);
}

export function utf8Error(code: ErrorCode, what: string): MqttError {
	switch (code) {
		case ErrorCode.UTF8_NULL_CHARACTER: return new MqttError(code, `${what} contains U+0000, which MQTT strings must not`);
		case ErrorCode.UTF8_SURROGATE: return new MqttError(code, `${what} encodes a surrogate code point (U+D800..U+DFFF), which MQTT strings must not`);
		default: return new MqttError(ErrorCode.MALFORMED_UTF8, `${what} is not well-formed UTF-8`);
	}
}

const units = new Array<number>(256);

/**
 * Decodes UTF-8 bytes [start, end) to a string; ill-formed sequences become U+FFFD.
 * This allocates the string and nothing else.
 */
export function decodeUtf8(buffer: Uint8Array, start: number, end: number): string {
	let result = "";
	let count = 0;
	let i = start;
	while (i < end) {
		const b = buffer[i]!;
		let cp = 0xFFFD;
		let next = i + 1;
		if (b < 0x80)
			cp = b;
		else {
			let need = 0;
			let min = 0;
			if (b >= 0xC2 && b <= 0xDF) { need = 1; min = 0x80; cp = b & 0x1F; }
			else if (b >= 0xE0 && b <= 0xEF) { need = 2; min = 0x800; cp = b & 0x0F; }
			else if (b >= 0xF0 && b <= 0xF4) { need = 3; min = 0x10000; cp = b & 0x07; }
			if (need > 0 && i + need < end) {
				let k = 1;
				for (; k <= need; k++) {
					const c = buffer[i + k]!;
					if ((c & 0xC0) !== 0x80) break;
					cp = (cp << 6) | (c & 0x3F);
				}
				if (k > need && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF))
					next = i + need + 1;
				else
					cp = 0xFFFD;
			}
			else
				cp = 0xFFFD;
		}
		i = next;
		if (count >= 254) {
			units.length = count;
			result += String.fromCharCode.apply(null, units);
			count = 0;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[count++] = 0xD800 + (cp >> 10);
			units[count++] = 0xDC00 + (cp & 0x3FF);
		}
		else
			units[count++] = cp;
	}
	units.length = count;
	result += String.fromCharCode.apply(null, units);
	units.length = 256;
	return result;
}
