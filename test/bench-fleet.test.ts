// The fleet benchmark still measures: a short run (50 clients, 500 ms of downtime) of ours and of
// MQTT.js. It checks that everyone comes back and the attempts are counted, not how fast.

import * as assert from "node:assert/strict";
import { runFleet } from "../bench/fleet.js";
import { findMosquitto } from "./lib/mosquitto.js";

describe("fleet benchmark (broker killed and restarted)", function () {
	this.timeout(120_000);
	before(function () {
		if (!findMosquitto()) this.skip();
	});
	for (const kind of ["ours", "mqttjs"] as const) {
		it(`${kind}: 50 clients all come back, their attempts counted`, async () => {
			const f = await runFleet({ kind, clients: 50, downtime: 500, recoverWithin: 30_000 });
			assert.equal(f.connectedAtEnd, 50);
			assert.ok(f.back99 !== undefined && f.back100 !== undefined && f.back99 <= f.back100, `back: ${f.back99} / ${f.back100}`);
			assert.ok(f.accepted >= 50, `${f.accepted} attempts counted`);
			assert.equal(f.buckets.reduce((a, b) => a + b, 0), f.accepted);
			assert.ok(f.peak >= 1 && f.peak <= f.accepted);
			assert.equal(f.sessionsResumed, 50, "sessions survive the SIGKILL (persistence)");
			assert.equal(f.wills, 0);
		});
	}
});
