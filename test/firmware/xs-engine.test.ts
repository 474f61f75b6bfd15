// The firmware end to end on the XS engine from npm (no SDK needed, so it runs everywhere): the same
// compiled main.ts and modules as the Moddable build, against mosquitto, checked by a second client.

import type { FirmwareConfig, FirmwareLauncher, RunningFirmware } from "../lib/firmware-scenario.js";
import { firmwareScenario } from "../lib/firmware-scenario.js";
import { XsDevice } from "../../hosts/xs/device-runner.js";

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
});
