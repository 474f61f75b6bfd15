// The packet identifier table (modules/mqtt/identifiers.ts) against a Map, through random sets and
// deletes that wrap identifiers and collide in every slot; and the pool's use of it.

import * as assert from "node:assert/strict";
import { IdTable } from "../../modules/mqtt/identifiers.js";
import { Random } from "../lib/random.js";

describe("packet identifier table", () => {
	it("behaves as a Map through 200,000 random operations, tables of 4 to 256 slots, colliding and wrapping keys", () => {
		const random = new Random(0x1D5);
		for (const capacity of [1, 2, 3, 8, 50, 128]) {
			const table = new IdTable(capacity);
			const model = new Map<number, number>();
			for (let step = 0; step < 200_000 / 6; step++) {
				const op = random.int(0, 2);
				if (op < 2 && model.size < capacity) {
					// Keys near each other and far apart (same slot modulo the table size), 1..65,535.
					const id = random.int(0, 1) === 0 ? random.int(1, 65_535) : (random.int(0, 7) * 64 + random.int(1, 8)) % 65_535 + 1;
					if (model.has(id)) continue;
					const entry = random.int(0, capacity - 1);
					table.set(id, entry);
					model.set(id, entry);
				}
				else if (model.size > 0) {
					const keys = [...model.keys()];
					const id = keys[random.int(0, keys.length - 1)]!;
					table.delete(id);
					model.delete(id);
				}
				if (step % 97 === 0) {
					for (const [id, entry] of model) assert.equal(table.get(id), entry, `id ${id}`);
					for (let k = 0; k < 8; k++) {
						const id = random.int(1, 65_535);
						if (!model.has(id)) assert.equal(table.get(id), -1, `absent ${id}`);
					}
				}
			}
		}
	});

	it("is twice the capacity rounded up to a power of two: 4 bytes a slot", () => {
		assert.equal(new IdTable(32).bytes, 64 * 4);
		assert.equal(new IdTable(1000).bytes, 2048 * 4);
		assert.equal(new IdTable(1).bytes, 4 * 4);
	});
});
