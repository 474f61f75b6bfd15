// Uptime, memory, restart, trace, small persistent numbers and platform info on the Moddable SDK. A
// board restarts with System.restart(); the desktop simulator, which has none, restarts the app in place.
// The reset reason is not reported: the SDK's typings have no API for it.

import Instrumentation from "instrumentation";
import Net from "net";
import Preference from "preference";
import type { DeviceSystem, HostInfo, SettingsStore } from "../../modules/device/host.js";
import { ModdableClock } from "./clock.js";

const DOMAIN = "xsmqtt";

export class ModdableSystem implements DeviceSystem {
	private readonly clock = new ModdableClock();

	/** `softRestart` runs when the platform cannot restart itself (the simulator). */
	constructor(private readonly softRestart: () => void) {}

	uptime(): number {
		return this.clock.now();
	}

	memory(): { free?: number; used?: number } {
		const free = read("System Free Memory");
		const slots = read("XS Slot Heap Used");
		const chunks = read("XS Chunk Heap Used");
		const result: { free?: number; used?: number } = {};
		if (free !== undefined) result.free = free;
		if (slots !== undefined || chunks !== undefined) result.used = (slots ?? 0) + (chunks ?? 0);
		return result;
	}

	restart(): void {
		const system = (globalThis as { System?: { restart?: () => void } }).System;
		if (system?.restart) system.restart();
		else this.softRestart();
	}

	trace(line: string): void {
		trace(`${line}\n`);
	}

	load(key: string): number | undefined {
		const value = Preference.get(DOMAIN, key);
		return typeof value === "number" ? value : undefined;
	}

	save(key: string, value: number | undefined): void {
		if (value === undefined) Preference.delete(DOMAIN, key);
		else Preference.set(DOMAIN, key, value);
	}

	/** "Moddable SDK", with the IP address and Wi-Fi RSSI where the network reports them. */
	info(): HostInfo {
		const result: HostInfo = { platform: "Moddable SDK" };
		try {
			const ip = Net.get("IP");
			if (typeof ip === "string" && ip !== "") result.ip = ip;
			const rssi = Net.get("RSSI");
			if (typeof rssi === "number" && Number.isFinite(rssi)) result.rssi = rssi;
		}
		catch {
			// no network interface (the simulator, or Wi-Fi not up yet)
		}
		return result;
	}
}

/** The runtime settings (JSON text) in their own preference domain, apart from the numbers and the MQTT store. */
export class PreferenceSettings implements SettingsStore {
	constructor(readonly domain = "xsmqttcfg", readonly key = "settings") {}

	load(): string | undefined {
		const value = Preference.get(this.domain, this.key);
		return typeof value === "string" ? value : undefined;
	}

	save(json: string): void {
		Preference.set(this.domain, this.key, json);
	}
}

function read(name: Parameters<typeof Instrumentation.map>[0]): number | undefined {
	const index = Instrumentation.map(name);
	return index === undefined ? undefined : Instrumentation.get(index);
}
