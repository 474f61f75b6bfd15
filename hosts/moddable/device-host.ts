// The device's host on the Moddable SDK: config from the manifest (overridable on the mcconfig
// command line), the ECMA-419 transport, SDK timers, the board's sensor and LED, preferences, store,
// and the saved settings (preferences, domain "xsmqttcfg").

import board from "hosts/platform/board";
import config from "mc/config";
import Net from "net";
import Time from "time";
import { parseMqttVersion, parseServers, parseSessionExpiry } from "../../modules/device/device.js";
import { parseDiscoveryPrefix } from "../../modules/device/discovery.js";
import type { DeviceConfig, DeviceHost } from "../../modules/device/host.js";
import { hashSeed, seededRandom } from "../../modules/mqtt/random.js";
import { ModdableClock } from "./clock.js";
import { PreferenceStore } from "./store.js";
import { ModdableSystem, PreferenceSettings } from "./system.js";
import { ModdableTransport } from "./transport.js";

/** A config value as a number (command-line overrides arrive as strings). */
function num(value: unknown, fallback: number): number {
	const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
	return Number.isFinite(n) ? n : fallback;
}

function flag(value: unknown): boolean {
	return value === true || value === 1 || value === "true" || value === "1";
}

function str(value: unknown): string | undefined {
	return typeof value === "string" && value !== "" ? value : undefined;
}

/** The network interface's MAC address, or "" where there is none (yet). */
function macAddress(): string {
	try {
		return Net.get("MAC") ?? "";
	}
	catch {
		return "";
	}
}

/** `deviceId` from config, else one made from the network interface's MAC address. */
function deviceId(): string {
	const configured = str(config.deviceId);
	if (configured) return configured;
	const mac = macAddress();
	const tail = mac.replace(/[^0-9a-fA-F]/g, "").slice(-6).toLowerCase();
	return `xs-${tail || "device"}`;
}

export function readConfig(): DeviceConfig {
	const tls = flag(config.mqttTls);
	// One broker or several: "a.local,b.local:1884" (each port by default mqttPort).
	const mqttHost = str(config.mqttHost) ?? "127.0.0.1";
	const mqttPort = num(config.mqttPort, tls ? 8883 : 1883);
	parseServers(mqttHost, mqttPort, undefined);
	return {
		deviceId: deviceId(),
		topicPrefix: str(config.topicPrefix) ?? "devices",
		mqttHost,
		mqttPort,
		mqttUser: str(config.mqttUser),
		mqttPassword: str(config.mqttPassword),
		mqttTls: tls,
		mqttCa: str(config.mqttCa),
		telemetryInterval: num(config.telemetryInterval, 10_000),
		keepAlive: num(config.keepAlive, 30),
		// Checked here, so that a bad value stops the boot with a message that names it.
		mqttVersion: parseMqttVersion(config.mqttVersion),
		sessionExpiry: parseSessionExpiry(config.sessionExpiry),
		// "" (discoveryPrefix= on the mcconfig command line) turns discovery off.
		discoveryPrefix: parseDiscoveryPrefix(config.discoveryPrefix),
	};
}

/** Builds the host; `reboot` starts the app again where the platform cannot restart (simulator). */
export function createHost(reboot: () => void): DeviceHost {
	const system = new ModdableSystem(reboot);
	const boardConfig = {
		sensorSda: num(config.sensorSda, 21),
		sensorScl: num(config.sensorScl, 22),
		sensorAddress: num(config.sensorAddress, 0x44),
		ledPin: num(config.ledPin, 2),
	};
	board.keepNetwork({ ssid: str(config.ssid), password: str(config.password) }, (line) => system.trace(line));
	const deviceConfig = readConfig();
	return {
		config: deviceConfig,
		transport: new ModdableTransport(),
		clock: () => new ModdableClock(),
		sensor: board.createSensor(boardConfig, () => system.uptime()),
		led: board.createLed(boardConfig),
		system,
		store: new PreferenceStore(),
		settings: new PreferenceSettings(),
		// The reconnect jitter's own numbers: Math.random is a hardware source on the ESP32 but the same
		// sequence on every run in the simulator and on the Pico, so the MAC address, the id, the time
		// and the ticks go into the seed too.
		random: seededRandom(hashSeed(`${macAddress()}/${deviceConfig.deviceId}`, (Date.now() ^ Time.ticks ^ Math.floor(Math.random() * 0x100000000)) >>> 0)),
	};
}
