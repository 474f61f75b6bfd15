// The device firmware: reads its sensor, publishes QoS 0 telemetry, takes QoS 1 commands, and has
// a last will that marks it "offline". "hosts/platform/*" is the platform (see manifest.json).

import { createHost } from "hosts/platform/device-host";
import { Device } from "./modules/device/device.js";

function boot(): void {
	new Device(createHost(boot));
}

boot();
