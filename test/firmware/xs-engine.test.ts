// The firmware end to end on the XS engine from npm (no SDK needed, so it runs everywhere): the same
// compiled main.ts and modules as the Moddable build, against mosquitto, checked by a second client.

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
