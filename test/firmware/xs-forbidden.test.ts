// The firmware on the XS engine against RabbitMQ with its topicPrefix forbidden to it: RabbitMQ closes
// the connection on the SUBSCRIBE, on the status PUBLISH and on telemetry. Before, the device
// reconnected about twice a second, forever (23 connections in 12 s); now each refused request is set
// aside after 3 closes and the reconnects follow the backoff.

import * as assert from "node:assert/strict";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { HOST } from "../lib/broker.js";
import { missingRabbitMq, startRabbitMq } from "../lib/erlang-brokers.js";
import type { ErlangBroker } from "../lib/erlang-brokers.js";
import { reportSkip } from "../lib/output.js";
import { sleep } from "../lib/signal.js";

const WINDOW = 12_000;

describe("firmware on the XS engine: a topicPrefix the broker forbids (RabbitMQ)", function () {
	this.timeout(90_000);
	let broker: ErlangBroker | undefined;

	before(async function () {
		const why = missingRabbitMq();
		if (why) {
			reportSkip("the firmware against RabbitMQ", why);
			return this.skip();
		}
		broker = await startRabbitMq({ forbidden: ["forbidden/#"] });
	});
	after(async () => broker?.stop());

	it(`connects no more often than the backoff allows (${WINDOW / 1000} s window) and sets the refused requests aside`, async () => {
		const lines: Array<{ at: number; text: string }> = [];
		const started = performance.now();
		const device = new XsDevice({
			config: { mqttHost: HOST, mqttPort: broker!.port, deviceId: `forbidden-${process.pid}`, topicPrefix: "forbidden", telemetryInterval: 60_000, keepAlive: 30, mqttTls: false },
			onTrace: (text) => lines.push({ at: performance.now() - started, text }),
		});
		try {
			await device.start();
			await sleep(WINDOW); // time passes on purpose: the connections of the window are counted
		}
		finally {
			await device.stop();
		}
		const connects = lines.filter((l) => l.text.startsWith("connected to"));
		const rejected = lines.filter((l) => l.text.includes("REJECTED_BY_BROKER"));
		console.log(`      ${connects.length} connections in ${WINDOW / 1000} s (at ${connects.map((c) => (c.at / 1000).toFixed(1)).join(", ")} s); set aside: ${rejected.map((l) => /(SUBSCRIBE|PUBLISH \d+)[^:]*? (\S+) was sent/.exec(l.text)?.slice(1).join(" ") ?? l.text).join("; ")}`);
		// The backoff (1 s doubling, jitter 0.5) allows at most 1 + 1 + 2 + 4 ... : 5 connections within 12 s
		// when each is closed before it proves itself; before, RabbitMQ's closes made it 23.
		assert.ok(connects.length >= 2 && connects.length <= 6, `${connects.length} connections`);
		assert.ok(rejected.some((l) => l.text.includes("SUBSCRIBE forbidden/")), "the commands subscription set aside");
	});
});
