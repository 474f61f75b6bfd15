// Our client in a process of its own, for the power-loss test: a persistent session with a file
// store, commands on stdin ("publish <topic> <qos> <payload>", "close"), events as JSON on stdout.

import * as readline from "node:readline";
import { createClient, FileStore } from "../../hosts/node/index.js";
import type { QoS } from "../../modules/mqtt/packet.js";

const [port, clientId, storeFile] = process.argv.slice(2);
if (!port || !clientId || !storeFile) throw new Error("usage: power-loss-child <port> <clientId> <storeFile>");

function say(event: Record<string, unknown>): void {
	process.stdout.write(`${JSON.stringify(event)}\n`);
}

const client = createClient({
	host: "127.0.0.1",
	port: Number(port),
	clientId,
	cleanSession: false,
	keepAlive: 0,
	connectTimeout: 2000,
	reconnect: { initialDelay: 50, maxDelay: 200, jitter: 0 },
	store: new FileStore(storeFile),
	onConnect(sessionPresent) { say({ event: "connected", sessionPresent, pending: this.pending }); },
	onDelivered(packetId) { say({ event: "delivered", id: packetId, pending: this.pending }); },
	onClose(error) { say({ event: "closed", code: error?.code }); },
	onError(error) { say({ event: "error", code: (error as { code?: string }).code, message: error.message }); },
});
say({ event: "started", pending: client.pending });

readline.createInterface({ input: process.stdin }).on("line", (line) => {
	const [command, topic, qos, ...payload] = line.split(" ");
	if (command === "publish" && topic && qos) {
		const id = client.publish(topic, payload.join(" "), Number(qos) as QoS);
		say({ event: "published", topic, id, pending: client.pending });
	}
	else if (command === "close") {
		client.close();
		say({ event: "closing", pending: client.pending });
		setTimeout(() => process.exit(0), 100);
	}
});
