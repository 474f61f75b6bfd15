// What the device firmware needs from its platform: the MQTT host seam plus a sensor, an LED,
// uptime, memory, restart, a trace line, two small persistent numbers and the saved settings.

import type { Clock, Store, Transport } from "../mqtt/host.js";

/** One sensor reading; a field is absent when the sensor could not give it. */
export interface Reading {
	temperature?: number;
	humidity?: number;
}

export interface Sensor {
	/** The part's name, for telemetry ("SHT3x", "simulated"). */
	readonly name: string;
	/** Takes a reading now; throws when the part does not answer. */
	read(): Reading;
}

export interface Led {
	set(on: boolean): void;
}

export interface DeviceSystem {
	/** Milliseconds since boot. */
	uptime(): number;
	/** Free heap bytes where the platform reports them, and XS heap use. */
	memory(): { free?: number; used?: number };
	/** Restarts the device (never returns on a board). */
	restart(): void;
	trace(line: string): void;
	/** A small persistent number (survives restart), or undefined. */
	load(key: string): number | undefined;
	save(key: string, value: number | undefined): void;
	/** Where the platform can ask for a graceful stop (Ctrl-C on a desktop host): `handler` runs it. */
	onShutdown?(handler: (done: () => void) => void): void;
	/** What the platform tells about itself, for the retained `info` message. */
	info?(): HostInfo;
}

/** The platform's part of the `info` message; a field is absent where the host cannot tell. */
export interface HostInfo {
	/** "Moddable SDK", "XS engine (@agoric/xsnap 0.14.2) on Node v22.1.0", ... */
	platform: string;
	/** The device's IP address on its network. */
	ip?: string;
	/** Wi-Fi received signal strength, dBm. */
	rssi?: number;
	/** Why the device last started (power on, watchdog, ...). */
	resetReason?: string;
}

/**
 * The runtime settings the `config` and `interval` commands save (JSON text, written whole), kept
 * apart from the MQTT session's store: Preference on Moddable, a file on the XS engine host.
 */
export interface SettingsStore {
	/** The saved JSON text, or undefined when nothing was saved. */
	load(): string | undefined;
	save(json: string): void;
}

export interface DeviceConfig {
	deviceId: string;
	topicPrefix: string;
	/** The broker, or several separated by commas (each `host` or `host:port`, `[v6]:port`; the port by default `mqttPort`): see parseServers. */
	mqttHost: string;
	mqttPort: number;
	mqttUser?: string;
	mqttPassword?: string;
	mqttTls: boolean;
	/** PEM text (Node) or resource name (Moddable) of the CA to trust. */
	mqttCa?: string;
	/** Milliseconds between telemetry readings. */
	telemetryInterval: number;
	/** Seconds (default 30). */
	keepAlive?: number;
	/** 4 for MQTT 3.1.1 (the default), 5 for MQTT 5.0. */
	mqttVersion?: 4 | 5;
	/** MQTT 5.0: seconds the broker keeps the device's session after it goes (default 86400, one day). */
	sessionExpiry?: number;
	/**
	 * Home Assistant MQTT discovery: the topic prefix its config messages go under (default
	 * "homeassistant"); "" publishes none.
	 */
	discoveryPrefix?: string;
}

export interface DeviceHost {
	config: DeviceConfig;
	transport: Transport;
	/** A new clock on the shared time base (the client and the app each take one). */
	clock(): Clock;
	sensor: Sensor;
	led: Led;
	system: DeviceSystem;
	/** Persistent store for the client's in-flight messages, where the platform has one. */
	store?: Store;
	/** Where the `config` and `interval` commands save their settings; without one they last until restart. */
	settings?: SettingsStore;
	/**
	 * Uniform numbers in [0, 1) that differ from device to device and boot to boot, for the client's
	 * reconnect jitter (default Math.random, the same sequence on every run where XS has no hardware
	 * source: see modules/mqtt/random.ts).
	 */
	random?: () => number;
}
