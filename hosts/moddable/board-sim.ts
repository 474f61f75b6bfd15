// The desktop simulator: a simulated sensor whose values drift plausibly, and an LED that traces.

import type { Led } from "../../modules/device/host.js";
import { SimulatedSensor } from "../../modules/device/simulated-sensor.js";
import type { Board } from "./board-types.js";

class TracedLed implements Led {
	set(on: boolean): void {
		trace(`LED ${on ? "on" : "off"} (simulated)\n`);
	}
}

const board: Board = {
	createSensor: (_config, uptime) => new SimulatedSensor(uptime),
	createLed: () => new TracedLed(),
	keepNetwork: () => {},
};
export default board;
