// RabbitMQ and ejabberd started by the tests (test/lib/erlang-brokers.ts): each comes up, carries a
// QoS 1 message between two MQTT.js clients, comes back after restart() and does it again. Skipped,
// saying why, where a broker is not installed.

import * as assert from "node:assert/strict";
import { missingEjabberd, missingRabbitMq, startEjabberd, startRabbitMq } from "../lib/erlang-brokers.js";
import type { ErlangBroker, ErlangBrokerOptions } from "../lib/erlang-brokers.js";
import { reportSkip } from "../lib/output.js";
import { closeAll, Peer, unique } from "../lib/peers.js";

const kinds: Array<{ name: string; missing: () => string | undefined; start: (options: ErlangBrokerOptions) => Promise<ErlangBroker> }> = [
	{ name: "RabbitMQ", missing: missingRabbitMq, start: startRabbitMq },
	{ name: "ejabberd", missing: missingEjabberd, start: startEjabberd },
];

const login = { username: "tester", password: "secret" };

/** Subscribes one MQTT.js client, publishes QoS 1 from another, and checks what arrives. */
async function roundTrip(broker: ErlangBroker, payload: string): Promise<void> {
	const topic = unique("erlang-smoke");
	const subscriber = await Peer.connect(broker.port, login);
	assert.equal(await subscriber.subscribe(topic, 1), 1, "granted QoS 1");
	const publisher = await Peer.connect(broker.port, login);
	await publisher.publish(topic, payload, { qos: 1 });
	await subscriber.until(() => subscriber.on(topic).length === 1, 5000, `${payload} at the subscriber`);
	const message = subscriber.on(topic)[0]!;
	assert.equal(message.payload.toString(), payload);
	assert.equal(message.qos, 1);
}

for (const kind of kinds) {
	describe(`integration: ${kind.name} started by the tests`, function () {
		this.timeout(120_000);
		let broker: ErlangBroker | undefined;

		before(async function () {
			const why = kind.missing();
			if (why) {
				reportSkip(`${kind.name} smoke test`, why);
				return this.skip();
			}
			broker = await kind.start({ users: [{ name: login.username, password: login.password }] });
		});
		afterEach(closeAll);
		after(async () => {
			await closeAll();
			await broker?.stop();
		});

		it("carries a QoS 1 message between two MQTT.js clients, and again after restart()", async () => {
			const b = broker!;
			assert.match(b.version, kind.name === "RabbitMQ" ? /^RabbitMQ \d/ : /^ejabberd \d/);
			await roundTrip(b, "before the restart");
			await closeAll();
			const pid = b.pid;
			await b.restart();
			assert.notEqual(b.pid, pid, "a new VM");
			await roundTrip(b, "after the restart");
		});
	});
}
