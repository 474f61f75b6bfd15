// The bridge between the firmware in XS and its Node parent (hosts/xs/protocol.ts): answers arrive
// whole, bytes that happen to start like an error are still data, and a request the parent cannot
// serve throws inside XS with the parent's reason instead of being read as an answer.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Request } from "../../hosts/xs/protocol.js";
import { XsWorker } from "../../hosts/xs/worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("the XS bridge to the Node parent", function () {
	this.timeout(30_000);
	let worker: XsWorker;
	let failing = false;

	before(async () => {
		worker = new XsWorker({
			onQuery: (message) => {
				const op = String.fromCharCode(message[0]!);
				if (failing) throw new Error("the transport is gone");
				// Data that starts with "!" (0x21), as the old protocol's failure marker did.
				if (op === Request.READ) return Uint8Array.of(0x21, 0x00, 0xFF, 0x41);
				return JSON.stringify({ used: 1234 });
			},
		});
		await worker.importModule(path.join(here, "bridge-entry.js"));
		assert.equal((await worker.evaluate("new TextEncoder().encode(String(globalThis.bridgeReady === true)).buffer")).text, "true");
	});
	after(async () => worker?.close());

	const ask = async (op: string): Promise<string> => (await worker.evaluate(`new TextEncoder().encode(bridgeAsk(${JSON.stringify(op)})).buffer`)).text;

	it("answers come through whole, text and bytes, even bytes that begin with \"!\"", async () => {
		failing = false;
		assert.equal(await ask("memory"), `text {"used":1234}`);
		assert.equal(await ask("read"), "bytes 33,0,255,65");
	});

	it("a request the parent cannot serve throws inside XS with the parent's reason (before, the reason was taken for the answer)", async () => {
		failing = true;
		assert.equal(await ask("read"), `threw the host could not serve request "g": the transport is gone`);
		assert.equal(await ask("memory"), `threw the host could not serve request "m": the transport is gone`);
		failing = false;
		assert.equal(await ask("memory"), `text {"used":1234}`, "and the bridge works on");
	});
});
