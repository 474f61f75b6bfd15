// The platform-free suites, run inside the real XS engine (@agoric/xsnap). Each case becomes a
// mocha test, so a failure inside XS fails here by name.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { XsWorker } from "../../hosts/xs/worker.js";
import { client5Cases, clientCases } from "../suites/client.js";
import { codecCases } from "../suites/codec.js";
import { deviceCases } from "../suites/device.js";
import { propertyCases } from "../suites/properties.js";
import { sessionCases } from "../suites/session.js";
import { session5Cases } from "../suites/session5.js";
import { mqtt5ClientCases } from "../suites/client5.js";

const here = path.dirname(fileURLToPath(import.meta.url));

interface Outcome { name: string; ok: boolean; error?: string }

/**
 * Moddable preloads the runtime and freezes it: the built-in constructors and prototypes are
 * read-only there, and code that assigns to an inherited built-in property throws. This hardens
 * them the same way before our modules load.
 */
const FREEZE_PRIMORDIALS = `
	for (const name of ["Object", "Function", "Array", "Error", "EvalError", "RangeError", "ReferenceError",
		"SyntaxError", "TypeError", "URIError", "AggregateError", "String", "Number", "Boolean", "Symbol", "BigInt",
		"Math", "JSON", "Reflect", "Date", "RegExp", "Map", "Set", "WeakMap", "WeakSet", "Promise", "ArrayBuffer",
		"DataView", "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
		"Float32Array", "Float64Array", "Uint8ClampedArray", "BigInt64Array", "BigUint64Array", "TextEncoder", "TextDecoder"])
		if (globalThis[name]) harden(globalThis[name]);
	harden(Object.getPrototypeOf(Uint8Array));
	Object.isFrozen(Error.prototype) && Object.isFrozen(Array.prototype) ? new TextEncoder().encode("frozen").buffer : undefined;
`;

function suiteOnXs(suite: string, names: string[], frozen = false): void {
	describe(`${suite} (XS engine${frozen ? ", built-ins frozen as on Moddable" : ""})`, function () {
		let outcomes = new Map<string, Outcome>();
		before(async function () {
			this.timeout(120_000);
			const worker = new XsWorker({ onStderr: (t) => process.stderr.write(t) });
			try {
				if (frozen) assert.equal((await worker.evaluate(FREEZE_PRIMORDIALS)).text, "frozen", "the built-ins were not frozen");
				await worker.importModule(path.join(here, "../suites/xs-entry.js"));
				const ready = await worker.evaluate("globalThis.xsSuitesReady === true ? new TextEncoder().encode('ready').buffer : undefined");
				assert.equal(ready.text, "ready", "the suites module did not load inside XS");
				const reply = await worker.evaluate(`runSuite(${JSON.stringify(suite)})`);
				const parsed = JSON.parse(reply.text) as { marker: string; results: Outcome[] };
				assert.equal(parsed.marker, "XS-SUITE-COMPLETE");
				outcomes = new Map(parsed.results.map((r) => [r.name, r]));
			}
			finally {
				await worker.close();
			}
		});
		it("ran every case", () => {
			assert.equal(outcomes.size, names.length, "cases reported by XS");
		});
		for (const name of names) {
			it(name, () => {
				const o = outcomes.get(name);
				assert.ok(o, "not reported by XS");
				if (!o.ok) assert.fail(o.error);
			});
		}
	});
}

suiteOnXs("codec", codecCases.map((c) => c.name));
suiteOnXs("session", sessionCases.map((c) => c.name));
suiteOnXs("client", clientCases.map((c) => c.name));
suiteOnXs("client5", client5Cases.map((c) => c.name));
suiteOnXs("device", deviceCases.map((c) => c.name));
suiteOnXs("properties", propertyCases.map((c) => c.name));
suiteOnXs("session5", session5Cases.map((c) => c.name));
suiteOnXs("mqtt5client", mqtt5ClientCases.map((c) => c.name));
for (const [suite, cases] of [
	["codec", codecCases], ["session", sessionCases], ["client", clientCases], ["client5", client5Cases], ["device", deviceCases],
	["properties", propertyCases], ["session5", session5Cases], ["mqtt5client", mqtt5ClientCases],
] as const)
	suiteOnXs(suite, cases.map((c) => c.name), true);
