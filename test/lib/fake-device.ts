// Fake device host parts for the firmware logic: a scriptable sensor, an LED that records its calls,
// and a system whose persistent values outlive a Device (a restart). Platform-free, so XS runs it.

import type { DeviceConfig, DeviceHost, DeviceSystem, Led, Reading, Sensor } from "../../modules/device/host.js";
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

/** Survives Devices: what DeviceSystem.save wrote, as flash would keep it. */
export class FakeStorage {
	readonly values = new Map<string, number>();
	readonly writes: Array<{ key: string; value: number | undefined }> = [];
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
	constructor(readonly time: TimeBase, readonly transport: Transport, storage = new FakeStorage(), config: Partial<DeviceConfig> = {}) {
		this.config = { ...DEFAULT_CONFIG, ...config };
		this.system = new FakeSystem(time, storage);
	}
	clock(): ManualClock {
		const c = this.time.clock();
		this.clocks.push(c);
		return c;
	}
}
