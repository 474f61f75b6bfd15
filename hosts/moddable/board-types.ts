// What a board module gives the device (hosts/moddable/board-*.ts, chosen per platform by the
// manifest as "hosts/platform/board"): its sensor and its LED.

import type { Led, Sensor } from "../../modules/device/host.js";

export interface BoardConfig {
	/** I2C pins and address of the sensor (ESP32 defaults: SDA 21, SCL 22, 0x44). */
	sensorSda?: number;
	sensorScl?: number;
	sensorAddress?: number;
	/** The LED's GPIO (ESP32 DevKitC: 2). */
	ledPin?: number;
}

export interface Board {
	createSensor(config: BoardConfig, uptime: () => number): Sensor;
	createLed(config: BoardConfig): Led;
	/** Keeps the network up (ESP32: Wi-Fi comes back by itself after a loss). */
	keepNetwork(config: { ssid?: string; password?: string }, trace: (line: string) => void): void;
}
