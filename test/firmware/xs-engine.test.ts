// The firmware end to end on the XS engine from npm (no SDK needed, so it runs everywhere): the same
// compiled main.ts and modules as the Moddable build, against mosquitto, checked by a second client.

import * as assert from "node:assert/strict";
import type { FirmwareConfig, FirmwareLauncher, RunningFirmware } from "../lib/firmware-scenario.js";
import { firmwareScenario } from "../lib/firmware-scenario.js";
import { XsDevice } from "../../hosts/xs/device-runner.js";
import { missingEjabberd, missingRabbitMq, startEjabberd, startRabbitMq } from "../lib/erlang-brokers.js";

const launcher: FirmwareLauncher = {
	name: "the XS engine from npm (hosts/xs)",
	async start(config: FirmwareConfig): Promise<RunningFirmware> {
		let output = "";
		const device = new XsDevice({
			config: { ...config, mqttTls: false },
			onTrace: (line) => { output += `${line}\n`; },
			onError: (text) => { output += `[error] ${text}`; },
		});
		await device.start();
		let ended = false;
		return {
			stop: async () => {
				if (ended) return;
				ended = true;
				await device.stop();
			},
			kill: async () => {
				if (ended) return;
				ended = true;
				await device.kill();
			},
			output: () => output,
		};
	},
};

describe("firmware end to end on the XS engine", () => {
	firmwareScenario(launcher, { startTimeout: 30_000 });
	// mqttVersion 5: answers on a dashboard's Response Topic, telemetry properties and alias, session expiry.
	firmwareScenario(launcher, { startTimeout: 30_000, mqttVersion: 5 });
	it("a configuration with mqttVersion or sessionExpiry out of range is refused before the engine starts, naming them", () => {
		const config = { deviceId: "bad", topicPrefix: "devices", mqttHost: "127.0.0.1", mqttPort: 1883, mqttTls: false, telemetryInterval: 1000 };
		assert.throws(() => new XsDevice({ config: { ...config, mqttVersion: 3 as unknown as 5 } }), /mqttVersion must be 4 \(MQTT 3\.1\.1\) or 5 \(MQTT 5\.0\), not 3/);
		assert.throws(() => new XsDevice({ config: { ...config, mqttVersion: 5, sessionExpiry: -1 } }), /sessionExpiry must be whole seconds, 0\.\.4294967295, not -1/);
	});
	// The same scenario on the other brokers of the matrix (test/integration/broker-matrix.test.ts).
	firmwareScenario(launcher, {
		startTimeout: 60_000,
		broker: {
			name: "RabbitMQ", missing: missingRabbitMq,
			async start() {
				const b = await startRabbitMq();
				return { version: b.version, port: b.port, login: b.anonymous, stop: () => b.stop() };
			},
		},
	});
	firmwareScenario(launcher, {
		startTimeout: 60_000,
		broker: {
			name: "ejabberd", missing: missingEjabberd,
			async start() {
				const b = await startEjabberd();
				return { version: b.version, port: b.port, login: b.anonymous, stop: () => b.stop() };
			},
		},
	});
});
