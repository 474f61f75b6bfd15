// ESP32 boards: an SHT3x temperature/humidity sensor on I2C through the SDK's ECMA-419 driver,
// and the LED on a GPIO. A sensor that does not answer is retried at the next reading.

import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import WiFi from "embedded:network/interface/wifi";
import SHT3x from "embedded:sensor/Humidity-Temperature/SHT3x";
import Timer from "timer";
import type { Led, Reading, Sensor } from "../../modules/device/host.js";
import type { Board, BoardConfig } from "./board-types.js";

class Sht3xSensor implements Sensor {
	readonly name = "SHT3x";
	private driver: SHT3x | undefined;
	constructor(private readonly config: BoardConfig) {}

	read(): Reading {
		if (!this.driver) {
			this.driver = new SHT3x({
				sensor: { io: I2C, data: this.config.sensorSda ?? 21, clock: this.config.sensorScl ?? 22, address: this.config.sensorAddress ?? 0x44 },
			});
		}
		try {
			const sample = this.driver.sample();
			return { temperature: round(sample.thermometer?.temperature, 2), humidity: round(sample.hygrometer?.humidity, 1) };
		}
		catch (error) {
			try { this.driver.close(); } catch { /* the bus is gone already */ }
			this.driver = undefined;
			throw error;
		}
	}
}

class GpioLed implements Led {
	private readonly pin: Digital;
	constructor(pin: number) {
		this.pin = new Digital({ pin, mode: Digital.Output });
		this.pin.write(0);
	}
	set(on: boolean): void {
		this.pin.write(on ? 1 : 0);
	}
}

function round(value: number | undefined, places: number): number | undefined {
	if (value === undefined) return undefined;
	const f = Math.pow(10, places);
	return Math.round(value * f) / f;
}

/** Wi-Fi connection states of embedded:network/interface/wifi: at or below this, disconnected. */
const DISCONNECTED = 200;
const WIFI_RETRY = 5_000;

/**
 * The SDK's network setup joins Wi-Fi before main runs; this keeps it joined: after a loss it
 * connects again every few seconds until it is back (the MQTT client reconnects on its own).
 */
function keepWiFi(config: { ssid?: string; password?: string }, trace: (line: string) => void): void {
	const ssid = config.ssid;
	if (!ssid) return;
	let retry: Timer | undefined;
	const join = (): void => {
		retry = undefined;
		try {
			wifi.connect(config.password ? { SSID: ssid, password: config.password } : { SSID: ssid });
		}
		catch {
			retry = Timer.set(join, WIFI_RETRY);
		}
	};
	const wifi = new WiFi({
		// Called later, from the Wi-Fi event loop (never during construction): `wifi` is set by then.
		onChanged(property) {
			if (property !== "connection") return;
			if (wifi.connection <= DISCONNECTED) {
				trace(`Wi-Fi "${ssid}" lost; joining again`);
				if (!retry) retry = Timer.set(join, WIFI_RETRY);
			}
			else if (wifi.address) trace(`Wi-Fi "${ssid}" back, address ${wifi.address}`);
		},
	});
}

const board: Board = {
	createSensor: (config) => new Sht3xSensor(config),
	createLed: (config) => new GpioLed(config.ledPin ?? 2),
	keepNetwork: keepWiFi,
};
export default board;
