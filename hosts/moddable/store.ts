// The client's Store on the Moddable SDK, over `preference` (NVS on ESP32): the snapshot in chunks
// of at most 1 KB, in two alternating slots, so that a power cut during a save leaves the last one.

import Preference from "preference";
import type { Store } from "../../modules/mqtt/host.js";

/** NVS limits an entry's size; 1 KB chunks stay well within it. */
export const CHUNK = 1024;
/** NVS stores blobs in 32-byte entries: a last chunk rounded up to them costs no more flash. */
const ROUND = 32;
const HEADER_KEYS = ["ha", "hb"] as const;
const PREFIXES = ["a", "b"] as const;

/*
 * Keys in the domain: "a0".."aN" and "b0".."bN", the chunks of slots a and b; "ha" and "hb", 8 bytes
 * each: the generation (uint32) and the length (uint32) of the snapshot the slot holds. A save goes
 * to the slot not holding the latest snapshot: its header is deleted, its chunks written, and its
 * header written last with the next generation. `load` takes the whole slot of the latest generation.
 */
export class PreferenceStore implements Store {
	/** The slot holding the latest snapshot, or -1. */
	private current = -1;
	private generation = 0;
	/** Chunks each slot holds, so that a shorter save deletes the rest. */
	private readonly chunks = [0, 0];
	/** Chunk keys per slot, made once. */
	private readonly keys: [string[], string[]] = [[], []];
	private readonly header = new ArrayBuffer(8);
	private readonly headerView = new DataView(this.header);
	private readonly full = new ArrayBuffer(CHUNK);
	private readonly fullBytes = new Uint8Array(this.full);
	/** The buffer for a last, shorter chunk: made again only when its rounded size changes. */
	private tail = new ArrayBuffer(0);
	private tailBytes = new Uint8Array(this.tail);

	constructor(readonly domain = "mqttstore") {
		for (const key of Preference.keys(domain)) {
			const slot = PREFIXES.indexOf(key[0] as "a" | "b");
			const index = Number(key.slice(1));
			if (slot >= 0 && key.length > 1 && Number.isInteger(index) && index >= 0)
				this.chunks[slot] = Math.max(this.chunks[slot]!, index + 1);
		}
		for (let slot = 0; slot < 2; slot++) {
			const h = this.readHeader(slot);
			if (h && (this.current < 0 || ((h.generation - this.generation) | 0) > 0)) {
				this.current = slot;
				this.generation = h.generation;
			}
		}
	}

	load(): Uint8Array | undefined {
		// The latest slot first; the other if the latest cannot be read whole.
		for (const slot of this.current < 0 ? [] : [this.current, 1 - this.current]) {
			const h = this.readHeader(slot);
			if (!h) continue;
			const bytes = new Uint8Array(h.length);
			let whole = true;
			for (let i = 0, at = 0; at < h.length; i++, at += CHUNK) {
				const chunk = Preference.get(this.domain, this.key(slot, i));
				const size = Math.min(CHUNK, h.length - at);
				if (!(chunk instanceof ArrayBuffer) || chunk.byteLength < size) {
					whole = false;
					break;
				}
				bytes.set(new Uint8Array(chunk, 0, size), at);
			}
			if (whole) return bytes;
		}
		return undefined;
	}

	save(data: Uint8Array, length: number): void {
		const slot = this.current === 0 ? 1 : 0;
		const count = Math.ceil(length / CHUNK);
		const domain = this.domain;
		Preference.delete(domain, HEADER_KEYS[slot]!);
		for (let i = 0, at = 0; i < count; i++, at += CHUNK) {
			const size = Math.min(CHUNK, length - at);
			let buffer = this.full;
			let bytes = this.fullBytes;
			if (size < CHUNK) {
				const rounded = Math.min(CHUNK, Math.ceil(size / ROUND) * ROUND);
				if (this.tail.byteLength !== rounded) {
					this.tail = new ArrayBuffer(rounded);
					this.tailBytes = new Uint8Array(this.tail);
				}
				buffer = this.tail;
				bytes = this.tailBytes;
			}
			for (let j = 0; j < size; j++) bytes[j] = data[at + j]!;
			Preference.set(domain, this.key(slot, i), buffer);
		}
		for (let i = count; i < this.chunks[slot]!; i++) Preference.delete(domain, this.key(slot, i));
		this.chunks[slot] = count;
		this.generation = (this.generation + 1) >>> 0;
		this.headerView.setUint32(0, this.generation);
		this.headerView.setUint32(4, length);
		Preference.set(domain, HEADER_KEYS[slot]!, this.header);
		this.current = slot;
	}

	/** Forgets both slots. */
	clear(): void {
		for (let slot = 0; slot < 2; slot++) {
			Preference.delete(this.domain, HEADER_KEYS[slot]!);
			for (let i = 0; i < this.chunks[slot]!; i++) Preference.delete(this.domain, this.key(slot, i));
			this.chunks[slot] = 0;
		}
		this.current = -1;
	}

	private key(slot: number, i: number): string {
		const keys = this.keys[slot]!;
		while (keys.length <= i) keys.push(PREFIXES[slot]! + keys.length);
		return keys[i]!;
	}

	private readHeader(slot: number): { generation: number; length: number } | undefined {
		const value = Preference.get(this.domain, HEADER_KEYS[slot]!);
		if (!(value instanceof ArrayBuffer) || value.byteLength !== 8) return undefined;
		const view = new DataView(value);
		return { generation: view.getUint32(0), length: view.getUint32(4) };
	}
}
