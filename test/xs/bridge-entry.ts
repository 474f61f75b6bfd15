// Runs inside the XS engine for test/xs/bridge.test.ts: asks the parent through the bridge and
// records what came back, or what was thrown.

import { Request, request, requestText } from "../../hosts/xs/bridge.js";

const g = globalThis as unknown as { bridgeAsk: (op: string) => string; bridgeReady: boolean };
g.bridgeAsk = (op: string): string => {
	try {
		if (op === "read") return `bytes ${Array.from(request(Request.READ, "8")).join(",")}`;
		return `text ${requestText(Request.MEMORY)}`;
	}
	catch (error) {
		return `threw ${(error as Error).message}`;
	}
};
g.bridgeReady = true;
