// What the firmware on the XS engine prints when a broker drops it: each error once, its code once.

import * as assert from "node:assert/strict";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { HOST } from "../lib/broker.js";
import { close, connack, ScriptedBroker } from "../lib/scripted-broker.js";
import { Signal } from "../lib/signal.js";

describe("firmware on the XS engine: its trace", function () {
	this.timeout(30_000);

	it("a connection the broker closes is traced as \"connection lost: CONNECTION_LOST: ...\", the code once", async () => {
		// Every connection: CONNACK, then the broker closes it.
		const broker = await ScriptedBroker.start(() => [connack(false), close()]);
		const lines: string[] = [];
		const signal = new Signal();
		const device = new XsDevice({
			config: { mqttHost: HOST, mqttPort: broker.port, deviceId: `trace-${process.pid}`, topicPrefix: "devices", telemetryInterval: 60_000, keepAlive: 30, mqttTls: false },
			onTrace: (line) => {
				lines.push(line);
				signal.notify();
			},
		});
		try {
			await device.start();
			await signal.until(() => lines.some((l) => l.includes("connection lost")), 20_000, "a \"connection lost\" line");
		}
		finally {
			await device.stop();
			await broker.close();
		}
		const lost = lines.find((l) => l.includes("connection lost"))!;
		assert.match(lost, /connection lost: CONNECTION_LOST: /);
		// Before: "connection lost: CONNECTION_LOST: CONNECTION_LOST: the connection to ... was closed by the other side".
		assert.equal(lost.split("CONNECTION_LOST").length - 1, 1, `the code once: ${lost}`);
	});
});
