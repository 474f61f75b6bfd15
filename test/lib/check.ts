// Assertions that run anywhere the suites run: Node under mocha, and inside the XS engine.
// Platform-free on purpose (no node:assert), so one suite file serves both.

export class CheckError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "CheckError";
	}
}

export function fail(message: string): never {
	throw new CheckError(message);
}

export function ok(value: unknown, message: string): void {
	if (!value) fail(message);
}

export function show(value: unknown): string {
	if (value instanceof Uint8Array) return `bytes(${hex(value)})`;
	if (value instanceof ArrayBuffer) return `ArrayBuffer(${hex(new Uint8Array(value))})`;
	if (typeof value === "string") return JSON.stringify(value);
	if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
	if (value && typeof value === "object")
		return `{${Object.keys(value).sort().map((k) => `${k}: ${show((value as Record<string, unknown>)[k])}`).join(", ")}}`;
	return String(value);
}

export function equal(actual: unknown, expected: unknown, message = ""): void {
	if (actual !== expected) fail(`${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
}

function same(a: unknown, b: unknown): boolean {
	if (a === b) return true;
	if (a instanceof Uint8Array && b instanceof Uint8Array) {
		if (a.length !== b.length) return false;
		for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
		return true;
	}
	if (Array.isArray(a) && Array.isArray(b)) {
		if (a.length !== b.length) return false;
		for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
		return true;
	}
	if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)
		&& !(a instanceof Uint8Array) && !(b instanceof Uint8Array)) {
		const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined).sort();
		const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined).sort();
		if (!same(ka, kb)) return false;
		for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
		return true;
	}
	return false;
}

/** Structural equality: plain objects (undefined fields ignored), arrays and byte arrays. */
export function deepEqual(actual: unknown, expected: unknown, message = ""): void {
	if (!same(actual, expected)) fail(`${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
}

/** Runs `fn` and checks that it throws an error whose `code` is `code`. */
export function throwsCode(fn: () => unknown, code: string, message = ""): void {
	try {
		fn();
	}
	catch (error) {
		const actual = (error as { code?: unknown }).code;
		if (actual !== code) fail(`${message ? message + ": " : ""}expected error code ${code}, got ${actual === undefined ? String(error) : String(actual)}`);
		return;
	}
	fail(`${message ? message + ": " : ""}expected error code ${code}, but nothing was thrown`);
}

export function hex(bytes: Uint8Array): string {
	let s = "";
	for (let i = 0; i < bytes.length; i++) s += (i ? " " : "") + bytes[i]!.toString(16).padStart(2, "0").toUpperCase();
	return s;
}

/** "10 0C 00 04" → bytes; spaces optional. The tests' one hex parser. */
export function bytes(text: string): Uint8Array {
	const clean = text.replace(/\s+/g, "");
	const out = new Uint8Array(clean.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
	return out;
}

/** ASCII text as hex, for readable fixtures: ascii("MQTT") = "4D 51 54 54". */
export function ascii(text: string): string {
	let s = "";
	for (let i = 0; i < text.length; i++) s += (i ? " " : "") + text.charCodeAt(i).toString(16).padStart(2, "0").toUpperCase();
	return s;
}

/** A named check; suites are arrays of these, run by mocha and by the XS runner alike. */
export interface Case {
	name: string;
	run: () => void;
}
