// Fake device host parts for the firmware logic: a scriptable sensor, an LED that records its calls,
// and a system whose persistent values outlive a Device (a restart). Platform-free, so XS runs it.

import type { DeviceConfig, DeviceHost, DeviceSystem, HostInfo, Led, Reading, Sensor, SettingsStore } from "../../modules/device/host.js";
import type { Transport } from "../../modules/mqtt/host.js";
import type { ManualClock, TimeBase } from "./manual-clock.js";

export class FakeSensor implements Sensor {
	readonly name = "fake-sht";
	reading: Reading = { temperature: 21.5, humidity: 40.2 };
	/** Set to make reads throw this (an Error with this message). */
	failWith: string | undefined;
	reads = 0;
	read(): Reading {
		this.reads++;
		if (this.failWith !== undefined) throw new Error(this.failWith);
		return { ...this.reading };
	}
}

export class FakeLed implements Led {
	readonly calls: boolean[] = [];
	/** Set to make `set` throw this. */
	failWith: string | undefined;
	set(on: boolean): void {
		if (this.failWith !== undefined) throw new Error(this.failWith);
		this.calls.push(on);
	}
}

/** Survives Devices: what DeviceSystem.save and the settings store wrote, as flash would keep it. */
export class FakeStorage {
	readonly values = new Map<string, number>();
	readonly writes: Array<{ key: string; value: number | undefined }> = [];
	/** The saved settings' text (undefined: none saved). */
	settings: string | undefined;
	readonly settingsWrites: string[] = [];
	/** Set to make the settings store's load or save throw this. */
	settingsLoadFails: string | undefined;
	settingsSaveFails: string | undefined;
}

/** The settings store over FakeStorage (what a reboot finds again). */
export class FakeSettings implements SettingsStore {
	constructor(readonly storage: FakeStorage) {}
	load(): string | undefined {
		if (this.storage.settingsLoadFails !== undefined) throw new Error(this.storage.settingsLoadFails);
		return this.storage.settings;
	}
	save(json: string): void {
		if (this.storage.settingsSaveFails !== undefined) throw new Error(this.storage.settingsSaveFails);
		this.storage.settingsWrites.push(json);
		this.storage.settings = json;
	}
}

export class FakeSystem implements DeviceSystem {
	readonly bootedAt: number;
	readonly traces: string[] = [];
	/** Times restart() was called, and when. */
	readonly restarts: number[] = [];
	/** Called by restart() (a test may "reboot" here). */
	onRestart: (() => void) | undefined;
	memoryFree = 123_456;
	memoryUsed = 65_432;
	/** What info() answers (undefined: the system has no info method's answer: it throws). */
	hostInfo: HostInfo | undefined = { platform: "fake platform 1.0", ip: "192.0.2.7", rssi: -61, resetReason: "power on" };
	constructor(readonly time: TimeBase, readonly storage: FakeStorage) {
		this.bootedAt = time.now();
	}
	uptime(): number {
		return this.time.now() - this.bootedAt;
	}
	memory(): { free?: number; used?: number } {
		return { free: this.memoryFree, used: this.memoryUsed };
	}
	restart(): void {
		this.restarts.push(this.time.now());
		this.onRestart?.();
	}
	trace(line: string): void {
		this.traces.push(line);
	}
	load(key: string): number | undefined {
		return this.storage.values.get(key);
	}
	info(): HostInfo {
		if (!this.hostInfo) throw new Error("no info on this platform");
		return this.hostInfo;
	}
	save(key: string, value: number | undefined): void {
		this.storage.writes.push({ key, value });
		if (value === undefined) this.storage.values.delete(key);
		else this.storage.values.set(key, value);
	}
}

export const DEFAULT_CONFIG: DeviceConfig = {
	deviceId: "d1",
	topicPrefix: "devices",
	mqttHost: "broker.test",
	mqttPort: 1883,
	mqttTls: false,
	telemetryInterval: 5_000,
	keepAlive: 30,
};

/** A DeviceHost over fakes; `clocks` lists the clocks the device took, in order. */
export class FakeDeviceHost implements DeviceHost {
	readonly config: DeviceConfig;
	readonly sensor = new FakeSensor();
	readonly led = new FakeLed();
	readonly system: FakeSystem;
	readonly clocks: ManualClock[] = [];
	settings: SettingsStore | undefined;
	constructor(readonly time: TimeBase, readonly transport: Transport, storage = new FakeStorage(), config: Partial<DeviceConfig> = {}) {
		this.config = { ...DEFAULT_CONFIG, ...config };
		this.system = new FakeSystem(time, storage);
		this.settings = new FakeSettings(storage);
	}
	clock(): ManualClock {
		const c = this.time.clock();
		this.clocks.push(c);
		return c;
	}
}
