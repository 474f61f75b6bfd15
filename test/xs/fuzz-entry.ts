// Loaded inside the XS engine: exposes the fuzz engine as `runFuzz(seed, iterations)`, which returns
// its stats or its failure as JSON bytes. The Node side checks `xsFuzzReady`, as XS hides module errors.

import { fuzz } from "../suites/fuzz.js";

function runFuzz(seed: number, iterations: number): ArrayBuffer {
	let reply: object;
	try {
		reply = { marker: "XS-FUZZ-COMPLETE", stats: fuzz(seed, iterations) };
	}
	catch (error) {
		reply = { marker: "XS-FUZZ-COMPLETE", error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
	}
	return new TextEncoder().encode(JSON.stringify(reply)).buffer as ArrayBuffer;
}

const global = globalThis as unknown as { runFuzz: typeof runFuzz; xsFuzzReady: boolean };
global.runFuzz = runFuzz;
global.xsFuzzReady = true;
