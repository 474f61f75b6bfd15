// Random numbers for the reconnect jitter and generated client ids, seeded by the caller. XS's
// Math.random is the C library's rand(), which XS never seeds: where the platform has no hardware
// source behind it (the Moddable simulator, the Pico, the XS engine from npm) every run of every device
// draws the same numbers, and a fleet that loses its broker together would retry together. A host
// seeds one of these with what differs between devices and boots (a MAC address, the time, a seed
// from its parent) and gives it to the client as `random`.

/** Folds a string's UTF-16 code units into a 32-bit number (FNV-1a), for seeds such as a MAC address. */
export function hashSeed(text: string, seed = 0x811c9dc5): number {
	let h = seed >>> 0;
	for (let i = 0; i < text.length; i++) {
		h ^= text.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h;
}

/**
 * Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: small, fast, allocation-free; not for
 * secrets). Different seeds give different sequences; the same seed, the same one.
 */
export function seededRandom(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
