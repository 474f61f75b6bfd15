// Stand-in for the Moddable SDK's `websocket` module: mqtt.js imports its Client, which it uses only
// for a `path` (MQTT over WebSocket); the benchmarks connect over the plain socket stub.

export class Client {
	constructor(_dictionary: unknown) {
		throw new Error("websocket stub: MQTT over WebSocket is not benchmarked");
	}
}
