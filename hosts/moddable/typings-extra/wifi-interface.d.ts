// embedded:network/interface/wifi as the Moddable SDK declares it (typings/embedded_network/
// interface/wifi.d.ts); used only when type-checking against the npm typings, which lack it.

declare module "embedded:network/interface/wifi" {
	export type WiFiChangedProperty = "connection" | "address";
	export interface WiFiConstructorOptions {
		port?: number;
		onChanged?: (property: WiFiChangedProperty) => void;
	}
	export interface WiFiConnectOptions {
		SSID: string;
		password?: string;
	}
	class WiFi {
		constructor(options: WiFiConstructorOptions);
		close(): void;
		connect(options: WiFiConnectOptions): void;
		disconnect(): void;
		readonly connection: number;
		readonly address: string | undefined;
		readonly SSID: string | undefined;
	}
	export default WiFi;
}
