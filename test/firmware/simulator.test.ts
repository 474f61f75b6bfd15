// The firmware end to end in the Moddable SDK's Linux simulator (mcsim, headless under xvfb-run),
// built into a temp dir with mcconfig for a broker on 127.0.0.1; skips when no SDK is found.

import { firmwareScenario } from "../lib/firmware-scenario.js";
import type { FirmwareLauncher } from "../lib/firmware-scenario.js";
import { findSimulator, SimulatorLauncher } from "../lib/mcsim.js";
import { reportSkip } from "../lib/output.js";

const BUILD_TIMEOUT = 140_000;

const found = findSimulator();
const skipping = found.reason;
const launcher = found.simulator && new SimulatorLauncher(found.simulator, BUILD_TIMEOUT);
const unavailable: FirmwareLauncher = {
	name: "the Moddable simulator (mcsim)",
	start: () => Promise.reject(new Error(skipping ?? "unavailable")),
};

describe("firmware end to end in the Moddable simulator", function () {
	before(function () {
		if (skipping) {
			reportSkip("firmware end to end in the simulator", skipping);
			this.skip();
		}
	});
	after(async function () {
		this.timeout(20_000);
		await launcher?.dispose();
	});

	firmwareScenario(launcher ?? unavailable);
	firmwareScenario(launcher ?? unavailable, { mqttVersion: 5 });
});
