// Packet identifiers in use (MQTT 3.1.1 §2.3.1) and the pool entry holding each, found in constant
// time however many messages are in flight: an open-addressing (linear probing) table of twice the
// pool's capacity. Identifiers are scattered by a multiplicative hash: taken as they are, a message
// that stays unacknowledged while later identifiers wrap around the table would make long runs of
// occupied slots. Fixed size, allocated once.

export class IdTable {
	/** The identifier in each slot; 0 (never a packet identifier) marks an empty one. */
	private readonly keys: Uint16Array;
	/** The pool entry of the identifier in the same slot. */
	private readonly values: Uint16Array;
	private readonly mask: number;
	/** 32 - log2(size): the hash keeps the top bits of the product. */
	private readonly shift: number;

	constructor(capacity: number) {
		let size = 4;
		let shift = 30;
		while (size < capacity * 2) {
			size *= 2;
			shift--;
		}
		const table = new ArrayBuffer(size * 4);
		this.keys = new Uint16Array(table, 0, size);
		this.values = new Uint16Array(table, size * 2, size);
		this.mask = size - 1;
		this.shift = shift;
	}

	// The home slot of an identifier: Fibonacci hashing, Math.imul(id, 0x9E3779B1) >>> shift (the
	// golden ratio's 32-bit fraction), written out where it is used: a call costs more than it does.

	/** Bytes of the table. */
	get bytes(): number {
		return this.keys.byteLength + this.values.byteLength;
	}

	/** The entry holding `id`, or -1. */
	get(id: number): number {
		const keys = this.keys;
		const mask = this.mask;
		for (let i = Math.imul(id, 0x9E3779B1) >>> this.shift; ; i = (i + 1) & mask) {
			const key = keys[i]!;
			if (key === id) return this.values[i]!;
			if (key === 0) return -1;
		}
	}

	/** Records that `entry` holds `id` (1..65,535), which is not in the table. */
	set(id: number, entry: number): void {
		const keys = this.keys;
		const mask = this.mask;
		let i = Math.imul(id, 0x9E3779B1) >>> this.shift;
		while (keys[i] !== 0) i = (i + 1) & mask;
		keys[i] = id;
		this.values[i] = entry;
	}

	/** Forgets `id`; the entries after it in its run move back, so that no probe meets a gap. */
	delete(id: number): void {
		const keys = this.keys;
		const values = this.values;
		const mask = this.mask;
		let i = Math.imul(id, 0x9E3779B1) >>> this.shift;
		for (;;) {
			const key = keys[i]!;
			if (key === 0) return;
			if (key === id) break;
			i = (i + 1) & mask;
		}
		// Backward-shift deletion for linear probing.
		for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
			const key = keys[j]!;
			if (key === 0) break;
			const home = Math.imul(key, 0x9E3779B1) >>> this.shift;
			// The key at j may fill the gap at i unless its home lies cyclically in (i, j].
			const stays = i <= j ? home > i && home <= j : home > i || home <= j;
			if (stays) continue;
			keys[i] = key;
			values[i] = values[j]!;
			i = j;
		}
		keys[i] = 0;
	}

	clear(): void {
		this.keys.fill(0);
	}
}
