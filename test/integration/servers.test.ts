// Several brokers (`servers`) against two real mosquitto brokers started here: connected to A with
// [A, B], A is killed; the client reaches B within its backoff, makes its subscription again there
// (B knows nothing of its session), sends again the QoS 1 message A never acknowledged, and names B.

import * as assert from "node:assert/strict";
import type { Client } from "../../modules/mqtt/client.js";
import { createClient } from "../../hosts/node/index.js";
import { findMosquitto, HOST, startBroker } from "../lib/broker.js";
import type { Broker } from "../lib/broker.js";
import { closeAll, Peer, track, unique } from "../lib/peers.js";
import { sleep, waitFor } from "../lib/signal.js";

describe("integration: several brokers (servers)", function () {
	this.timeout(15_000);
	afterEach(closeAll);

	it("A killed: the client moves to B within its backoff, subscribes again (a message published to B reaches it), re-sends the unacknowledged QoS 1 message, and reports B", async function () {
		if (!findMosquitto()) this.skip();
		const a: Broker = track(await startBroker({ kind: "mosquitto" }));
		const b: Broker = track(await startBroker({ kind: "mosquitto" }));
		const topic = unique("servers");
		const connects: Array<{ server: string; sessionPresent: boolean; at: number }> = [];
		const received: string[] = [];
		const delivered: number[] = [];
		const client: Client = createClient({
			servers: [{ host: HOST, port: a.port }, { host: HOST, port: b.port }],
			clientId: `servers-${process.pid}`, cleanSession: false, keepAlive: 30, connectTimeout: 2000,
			reconnect: { initialDelay: 100, maxDelay: 400, factor: 2, jitter: 0 },
			onConnect(sessionPresent) { connects.push({ server: this.server, sessionPresent, at: Date.now() }); },
			onMessage(m) { received.push(`${m.topic()} ${m.payloadText()}`); },
			onDelivered(id) { delivered.push(id); },
		});
		track({ close: async () => client.close() });
		client.subscribe(`${topic}/in/#`, 1);
		await waitFor(() => connects.length === 1 && client.stats.connects === 1 && client.pending === 0, 5000, "connected to A, subscribed");
		assert.equal(connects[0]!.server, `${HOST}:${a.port}`);
		await sleep(100); // the SUBACK (the connection proved itself)

		const watcher = await Peer.connect(b.port);
		await watcher.subscribe(`${topic}/out`, 1);
		// A stops answering: the QoS 1 message goes out to it and is never acknowledged.
		process.kill(a.pid!, "SIGSTOP");
		const id = client.publish(`${topic}/out`, "in flight", 1);
		assert.ok(id > 0);
		await sleep(200);
		assert.equal(delivered.length, 0, "A never acknowledged it");
		const killedAt = Date.now();
		await a.kill("SIGKILL");

		await waitFor(() => connects.length === 2, 5000, "connected to B");
		// Lost after proving itself: A again after 100 ms (refused), then B after 200 ms.
		assert.ok(connects[1]!.at - killedAt < 2000, `reached B in ${connects[1]!.at - killedAt} ms`);
		assert.equal(connects[1]!.server, `${HOST}:${b.port}`, "onConnect's this.server names B");
		assert.equal(client.server, `${HOST}:${b.port}`);
		assert.equal(connects[1]!.sessionPresent, false, "B has no session for this client");
		await watcher.until(() => watcher.on(`${topic}/out`).length === 1, 3000, "the re-sent message at B");
		assert.equal(watcher.on(`${topic}/out`)[0]!.payload.toString(), "in flight");
		await waitFor(() => delivered.includes(id), 3000, "B's PUBACK");
		await watcher.publish(`${topic}/in/x`, "from B", { qos: 1 });
		await waitFor(() => received.length === 1, 3000, "the message published to B");
		assert.deepEqual(received, [`${topic}/in/x from B`], "the subscription was made again on B");
	});
});
