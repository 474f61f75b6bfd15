// The fixed header's "remaining length": 1 to 4 bytes of 7 bits each, least significant group first,
// bit 7 meaning "more" (MQTT 3.1.1 §2.2.3). Largest value 268,435,455; a fifth byte is malformed.

import { ErrorCode, MqttError } from "./errors.js";
import { MAX_REMAINING_LENGTH } from "./packet.js";

/** How many bytes `value` takes as a remaining length (1..4). */
export function remainingLengthSize(value: number): number {
	if (value < 128) return 1;
	if (value < 16_384) return 2;
	if (value < 2_097_152) return 3;
	return 4;
}

/** Writes `value` at `offset`; returns the offset after it. The caller has checked the room. */
export function writeRemainingLength(value: number, buffer: Uint8Array, offset: number): number {
	if (!(value >= 0 && value <= MAX_REMAINING_LENGTH) || value !== Math.floor(value))
		throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `remaining length ${value} is outside 0..268,435,455`);
	do {
		let byte = value & 0x7F;
		value >>>= 7;
		if (value > 0) byte |= 0x80;
		buffer[offset++] = byte;
	} while (value > 0);
	return offset;
}

/** `readRemainingLength` packs the bytes it took above the value: the value takes 28 bits. */
export const LENGTH_SIZE_SHIFT = 28;
export const LENGTH_VALUE_MASK = 0x0FFF_FFFF;

/**
 * Reads a remaining length at `offset`, looking no further than `end`. Returns the value and the
 * bytes it took (1..4) packed as `size << LENGTH_SIZE_SHIFT | value` (take them apart with
 * `>>> LENGTH_SIZE_SHIFT` and `& LENGTH_VALUE_MASK`: a number, so nothing is allocated and no state
 * is left behind), or -1 when the bytes end first. Throws on a fifth byte.
 */
export function readRemainingLength(buffer: Uint8Array, offset: number, end: number): number {
	let value = 0;
	let multiplier = 1;
	for (let i = 0; i < 4; i++) {
		if (offset + i >= end) return -1;
		const byte = buffer[offset + i]!;
		value += (byte & 0x7F) * multiplier;
		if (!(byte & 0x80)) return ((i + 1) << LENGTH_SIZE_SHIFT) | value;
		multiplier *= 128;
	}
	throw new MqttError(ErrorCode.MALFORMED_REMAINING_LENGTH, "remaining length has a fifth byte (at most 4 are allowed)");
}
