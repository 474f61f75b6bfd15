// Declaration of the SDK's ECMA-419 SHT3x driver (modules/drivers/sensors/sht3x), which the SDK's
// typings do not cover; it follows the driver's source.

declare module "embedded:sensor/Humidity-Temperature/SHT3x" {
	import type I2C from "embedded:io/i2c";

	export interface SHT3xOptions {
		sensor: {
			io: typeof I2C;
			data?: number;
			clock?: number;
			address?: number;
			hz?: number;
			port?: number;
		};
		onError?: (message: string) => void;
	}

	export interface SHT3xSample {
		thermometer: { temperature?: number };
		hygrometer: { humidity?: number };
	}

	export default class SHT3x {
		constructor(options: SHT3xOptions);
		configure(options: Record<string, unknown>): void;
		sample(): SHT3xSample;
		close(): void;
	}
}
