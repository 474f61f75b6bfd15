// The device's host inside the XS engine from npm: config from the Node parent, its socket and
// timers over the bridge, the simulated sensor, an LED the firmware traces, storage kept by the parent
// (numbers, the MQTT session and the saved settings).

import type { DeviceConfig, DeviceHost, DeviceSystem, SettingsStore } from "../../modules/device/host.js";
import type { Store } from "../../modules/mqtt/host.js";
import { SimulatedSensor } from "../../modules/device/simulated-sensor.js";
import { seededRandom } from "../../modules/mqtt/random.js";
import { EVENT_SHUTDOWN, listen, now, Request, request, requestText } from "./bridge.js";
import { XsClock } from "./clock.js";
import { XsTransport } from "./transport.js";

interface Boot {
	xsConfig: DeviceConfig;
	xsBootTime: number;
	/** A 32-bit seed the parent draws for each boot: XS's own Math.random is the same every run here. */
	xsSeed?: number;
	/** What the parent says the platform is ("XS engine (@agoric/xsnap ...) on Node ..."). */
	xsPlatform?: string;
	xsHostReady?: boolean;
}

export function createHost(_reboot: () => void): DeviceHost {
	const boot = globalThis as unknown as Boot;
	const bootTime = boot.xsBootTime;
	let shutdownHandler: ((done: () => void) => void) | undefined;
	const system: DeviceSystem = {
		uptime: () => now() - bootTime,
		memory: () => JSON.parse(requestText(Request.MEMORY)) as { free?: number; used?: number },
		restart: () => {
			request(Request.RESTART); // the parent starts a fresh engine: a reboot
		},
		trace: (line) => print(line),
		load: (key) => {
			const value = requestText(Request.LOAD, key);
			return value === "" ? undefined : Number(value);
		},
		save: (key, value) => {
			request(Request.SAVE, JSON.stringify({ key, value: value ?? null }));
		},
		onShutdown: (handler) => {
			shutdownHandler = handler;
		},
		// No IP address, Wi-Fi or reset reason here; the heap use comes with memory().
		info: () => ({ platform: boot.xsPlatform ?? "XS engine" }),
	};
	listen((kind) => {
		if (kind !== EVENT_SHUTDOWN) return;
		const done = (): void => {
			request(Request.SHUTDOWN_DONE);
		};
		if (shutdownHandler) shutdownHandler(done);
		else done();
	});
	// The client's session: the parent keeps the bytes (in its store file, or in memory).
	const store: Store = {
		load: () => {
			const bytes = request(Request.LOAD_SESSION);
			return bytes.length > 0 ? bytes : undefined;
		},
		save: (data, length) => {
			request(Request.SAVE_SESSION, data.subarray(0, length));
		},
	};
	// The settings the config and interval commands save: the parent keeps the text (in a file, or in memory).
	const settings: SettingsStore = {
		load: () => {
			const answer = requestText(Request.LOAD_SETTINGS);
			return answer.startsWith("=") ? answer.slice(1) : undefined;
		},
		save: (json) => {
			request(Request.SAVE_SETTINGS, json);
		},
	};
	const host: DeviceHost = {
		config: boot.xsConfig,
		transport: new XsTransport(),
		clock: () => new XsClock(),
		sensor: new SimulatedSensor(() => system.uptime()),
		// The firmware traces "LED on" itself: a second line here would only repeat it.
		led: { set: () => undefined },
		system,
		store,
		settings,
		random: seededRandom(boot.xsSeed ?? bootTime),
	};
	boot.xsHostReady = true;
	return host;
}
