// Loaded inside the XS engine: runs the platform-free suites there and reports each case.
// The Node side checks `xsSuitesReady` first, since XS does not report a module that throws.

import type { Case } from "../lib/check.js";
import { client5Cases, clientCases } from "./client.js";
import { codecCases } from "./codec.js";
import { deviceCases } from "./device.js";
import { propertyCases } from "./properties.js";
import { sessionCases } from "./session.js";
import { session5Cases } from "./session5.js";
import { mqtt5ClientCases } from "./client5.js";

const suites: Record<string, Case[]> = { codec: codecCases, session: sessionCases, client: clientCases, client5: client5Cases, device: deviceCases, properties: propertyCases, session5: session5Cases, mqtt5client: mqtt5ClientCases };

interface Result { name: string; ok: boolean; error?: string }

function run(suite: string): ArrayBuffer {
	const cases = suites[suite];
	const results: Result[] = [];
	if (!cases) results.push({ name: `suite ${suite}`, ok: false, error: "no such suite" });
	else for (const c of cases) {
		try {
			c.run();
			results.push({ name: c.name, ok: true });
		}
		catch (error) {
			results.push({ name: c.name, ok: false, error: String((error as Error)?.message ?? error) });
		}
	}
	return new TextEncoder().encode(JSON.stringify({ marker: "XS-SUITE-COMPLETE", results })).buffer as ArrayBuffer;
}

const global = globalThis as unknown as { runSuite: typeof run; xsSuitesReady: boolean };
global.runSuite = run;
global.xsSuitesReady = true;
