// The hot paths allocate nothing, measured in the real XS engine: heap slots counted before any
// collection across many operations, and live slots after gc(). Allocation is behaviour, not speed.

import * as assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { measure, startWorkloads } from "../lib/xs-meter.js";
import type { XsWorker } from "../../hosts/xs/worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("allocation in the XS engine", function () {
	this.timeout(120_000);
	let worker: XsWorker;
	before(async () => {
		worker = await startWorkloads(path.join(here, "../lib/xs/workloads.js"), "workloadsReady");
	});
	after(async () => worker?.close());

	for (const [name, label] of [
		["encodeQos0", "encoding a QoS 0 PUBLISH"],
		["decodePublish", "decoding a PUBLISH"],
		["readPublish", "framing and decoding a PUBLISH from a stream"],
		["readProperties", "reading an MQTT 5.0 PUBLISH's properties (seven kinds, user properties, subscription identifiers) in place"],
		["writeProperties", "measuring and writing MQTT 5.0 PUBLISH properties"],
		["clientPublishQos0", "a client publishing QoS 0"],
		["clientPublishQos1", "a client publishing QoS 1 through to PUBACK"],
		["clientReceiveQos1", "a client receiving QoS 1: handler, then PUBACK"],
		["client5PublishQos0Alias", "an MQTT 5.0 client publishing QoS 0 telemetry as its topic alias, with a reused properties object"],
		["client5PublishQos1", "an MQTT 5.0 client publishing QoS 1 with properties through to a PUBACK with a reason code"],
		["client5ReceiveQos1", "an MQTT 5.0 client receiving QoS 1 with properties, read in place by the handler, then PUBACK"],
		["client5ReceiveAlias", "an MQTT 5.0 client receiving a PUBLISH named by an inbound topic alias"],
		["clientPublishQos1Stored", "a client with a store publishing QoS 1 through to PUBACK (two saves)"],
		["clientPublishQos2Stored", "a client with a store publishing QoS 2 through PUBREC to PUBCOMP (three saves)"],
		["clientReceiveQos2Stored", "a client with a store receiving QoS 2: handler, PUBREC, PUBREL, PUBCOMP (two saves)"],
	] as const) {
		it(`${label} allocates nothing (2,000 times)`, async () => {
			const f = await measure(worker, name, 2_000);
			assert.equal(f.allocatedSlots, 0, "heap slots allocated");
			assert.equal(f.heapGrowth, 0, "live heap growth after gc()");
		});
	}

	it("the measurement sees an allocation when there is one", async () => {
		await worker.evaluate("workloads.allocating = (n) => { for (let i = 0; i < n; i++) globalThis.kept = { i }; }");
		const f = await measure(worker, "allocating", 2_000);
		assert.ok(f.allocatedSlots >= 2_000, `expected at least one slot per operation, saw ${f.allocatedSlots}`);
	});
});
