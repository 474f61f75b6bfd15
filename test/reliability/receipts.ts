// What the soak's two sides share, in Node and inside XS: the numbered payload's layout and the check of
// receipts per message number (never received, received more than once).

/** Payloads: the message number in DIGITS ASCII digits, then filler, PAYLOAD_BYTES in all. */
export const PAYLOAD_BYTES = 16;
export const DIGITS = 10;

/** Receipts of one QoS over a range of message numbers. */
export interface Receipts {
	/** Numbers never received. */
	missing: number;
	/** Receipts beyond the first, summed over the numbers. */
	repeated: number;
	total: number;
	/** Receipts of numbers outside the range. */
	outside: number;
	firstMissing: number[];
	firstRepeated: number[];
}

/** Checks receipt counts (index: message number) over numbers [from, to). */
export function checkReceipts(counts: Uint8Array, from: number, to: number): Receipts {
	const r: Receipts = { missing: 0, repeated: 0, total: 0, outside: 0, firstMissing: [], firstRepeated: [] };
	for (let n = 0; n < counts.length; n++) {
		const c = counts[n]!;
		r.total += c;
		if (n < from || n >= to) r.outside += c;
		else if (c === 0) {
			r.missing++;
			if (r.firstMissing.length < 10) r.firstMissing.push(n);
		}
		else if (c > 1) {
			r.repeated += c - 1;
			if (r.firstRepeated.length < 10) r.firstRepeated.push(n);
		}
	}
	return r;
}

/** Numbers received at least once. */
export function distinct(counts: Uint8Array): number {
	let d = 0;
	for (let n = 0; n < counts.length; n++) if (counts[n]! > 0) d++;
	return d;
}
