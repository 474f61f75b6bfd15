// Uptime, memory, restart, trace and small persistent numbers on the Moddable SDK. A board restarts
// with System.restart(); the desktop simulator, which has none, restarts the app in place.

import Instrumentation from "instrumentation";
import Preference from "preference";
import type { DeviceSystem } from "../../modules/device/host.js";
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
}

function read(name: Parameters<typeof Instrumentation.map>[0]): number | undefined {
	const index = Instrumentation.map(name);
	return index === undefined ? undefined : Instrumentation.get(index);
}
