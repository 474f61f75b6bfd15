// The same delivery checks on every broker the tests can start: mosquitto 2, aedes, RabbitMQ (MQTT
// plugin) and ejabberd (mod_mqtt), each with `forbidden/#` closed to our client and, where the broker
// has the setting, a 2,048-byte packet limit. MQTT.js 5 (MQTT 3.1.1) is the other side. Each case
// counts the connections our client made: bounded by the backoff, never by how fast the broker refuses.
// A broker that is not installed is skipped, saying so.

import * as assert from "node:assert/strict";
import { ErrorCode } from "../../modules/mqtt/errors.js";
import type { MqttError } from "../../modules/mqtt/errors.js";
import type { QoS } from "../../modules/mqtt/packet.js";
import { findMosquitto, startBroker } from "../lib/broker.js";
import { missingEjabberd, missingRabbitMq, startEjabberd, startRabbitMq } from "../lib/erlang-brokers.js";
import { reportSkip } from "../lib/output.js";
import { closeAll, now, Ours, Peer, unique } from "../lib/peers.js";
import { sleep } from "../lib/signal.js";

const FORBIDDEN = "forbidden/#";
const MAX_PACKET = 2048;
/** Fast enough for a test, the same shape as the defaults: doubling from 200 ms to 1.6 s, no jitter (exact bounds). */
const RECONNECT = { initialDelay: 200, factor: 2, maxDelay: 1600, jitter: 0 };
/** The fixed window in which a refusal case counts connections. */
const WINDOW = 6000;
const N = 20;

interface Target {
	/** "mosquitto 2.0.11" */
	version: string;
	port: number;
	/** What our client logs in with: restricted (forbidden/# closed to it). */
	ours: { username?: string; password?: string };
	/** What MQTT.js logs in with: unrestricted. */
	peer: { username?: string; password?: string };
	/** The broker enforces MAX_PACKET. */
	limitsPackets: boolean;
	/** Sessions and their queued messages survive restart(). */
	keepsSessions: boolean;
	/** The highest QoS it grants. */
	maxQos: QoS;
	restart(): Promise<void>;
	stop(): Promise<void>;
}

interface Kind {
	name: string;
	missing(): string | undefined;
	start(): Promise<Target>;
}

const TESTER = { username: "tester", password: "secret" };

const kinds: Kind[] = [
	{
		name: "mosquitto",
		missing: () => (findMosquitto() ? undefined : "mosquitto is not installed"),
		async start() {
			const b = await startBroker({ kind: "mosquitto", persistence: true, refuseSubscriptions: [FORBIDDEN], refusePublishes: [FORBIDDEN], maxPacketSize: MAX_PACKET });
			return { version: b.version, port: b.port, ours: {}, peer: {}, limitsPackets: true, keepsSessions: true, maxQos: 2, restart: () => b.restart(), stop: () => b.stop() };
		},
	},
	{
		name: "aedes",
		missing: () => undefined,
		async start() {
			const b = await startBroker({ kind: "aedes", refuseSubscriptions: [FORBIDDEN], refusePublishes: [FORBIDDEN] });
			return { version: b.version, port: b.port, ours: {}, peer: {}, limitsPackets: false, keepsSessions: false, maxQos: 2, restart: () => b.restart(), stop: () => b.stop() };
		},
	},
	{
		name: "RabbitMQ",
		missing: missingRabbitMq,
		async start() {
			const b = await startRabbitMq({ users: [{ name: TESTER.username, password: TESTER.password }], forbidden: [FORBIDDEN] });
			return { version: b.version, port: b.port, ours: b.anonymous, peer: TESTER, limitsPackets: false, keepsSessions: true, maxQos: 1, restart: () => b.restart(), stop: () => b.stop() };
		},
	},
	{
		name: "ejabberd",
		missing: missingEjabberd,
		async start() {
			const b = await startEjabberd({ users: [{ name: TESTER.username, password: TESTER.password }], forbidden: [FORBIDDEN], maxPacketSize: MAX_PACKET });
			return { version: b.version, port: b.port, ours: b.anonymous, peer: TESTER, limitsPackets: true, keepsSessions: false, maxQos: 2, restart: () => b.restart(), stop: () => b.stop() };
		},
	},
];

/** The most connections the backoff allows in `window` ms when none proves itself: one now, then after 200, 400, 800, 1600, 1600... */
function backoffBound(window: number): number {
	let count = 1;
	let at = 0;
	for (let delay = RECONNECT.initialDelay; ; delay = Math.min(delay * RECONNECT.factor, RECONNECT.maxDelay)) {
		at += delay;
		if (at > window) return count;
		count++;
	}
}

const figures: string[] = [];

for (const kind of kinds) {
	describe(`broker matrix: ${kind.name}`, function () {
		this.timeout(60_000);
		let target: Target;
		const clientIds: string[] = [];

		/** Our client, restricted, with the matrix's backoff. */
		const ours = (options: Partial<ConstructorParameters<typeof Ours>[0]> = {}): Ours => {
			const id = `matrix-${process.pid}-${clientIds.length}`;
			clientIds.push(id);
			return new Ours({ port: target.port, clientId: id, reconnect: RECONNECT, ...target.ours, ...options });
		};
		const peer = (): Promise<Peer> => Peer.connect(target.port, target.peer);
		const record = (what: string, o: Ours, from: number, note = ""): void => {
			const line = `${target.version} | ${what} | ${o.client.stats.connects} connections in ${Math.round(now() - from)} ms${note}`;
			figures.push(line);
			console.log(`      matrix: ${line}`);
		};

		before(async function () {
			const why = kind.missing();
			if (why) {
				reportSkip(`the broker matrix on ${kind.name}`, why);
				return this.skip();
			}
			this.timeout(120_000);
			target = await kind.start();
		});
		afterEach(closeAll);
		after(async () => {
			await closeAll();
			await target?.stop();
		});

		it(`QoS 0, 1 and 2 both ways, ${N} numbered messages each: none lost, QoS 2 never doubled`, async () => {
			const from = now();
			const t = unique("matrix/qos");
			const p = await peer();
			await p.subscribe(`${t}/down/#`, 2);
			const o = ours({ maxMessages: 3 * N, queueBytes: 8192 });
			await o.connected();
			// Down: ours → MQTT.js.
			for (let i = 0; i < N; i++) for (const q of [0, 1, 2] as const) assert.ok(o.client.publish(`${t}/down/q${q}`, `${i}`, q) >= 0);
			await o.until(() => o.delivered.length >= 2 * N, 10_000, `${2 * N} onDelivered`);
			await p.until(() => [0, 1, 2].every((q) => new Set(p.on(`${t}/down/q${q}`).map((m) => m.payload.toString())).size === N), 10_000, "every numbered message at MQTT.js");
			const twice = p.on(`${t}/down/q2`).length - N;
			if (target.maxQos === 2) assert.equal(twice, 0, "QoS 2 never doubled");
			// Up: MQTT.js → ours.
			assert.equal(await o.subscribe(`${t}/up/#`, 2, o.handler("up")), target.maxQos, "granted QoS");
			for (let i = 0; i < N; i++) for (const q of [0, 1, 2] as const) await p.publish(`${t}/up/q${q}`, `${i}`, { qos: q });
			await o.until(() => [0, 1, 2].every((q) => new Set(o.on(`${t}/up/q${q}`).map((m) => Buffer.from(m.payload).toString())).size === N), 10_000, "every numbered message at ours");
			if (target.maxQos === 2) assert.equal(o.on(`${t}/up/q2`).length, N, "QoS 2 never doubled");
			assert.deepEqual(o.closes, []);
			record("QoS 0/1/2 both ways", o, from, target.maxQos === 2 ? "" : ` (QoS 2 granted as QoS 1; ${twice} duplicates)`);
		});

		it("the will: published when our client ends without DISCONNECT, not after close()", async () => {
			const from = now();
			const t = unique("matrix/will");
			const p = await peer();
			await p.subscribe(`${t}/#`, 1);
			const graceful = ours({ will: { topic: `${t}/graceful`, payload: "offline", qos: 1, retain: false } });
			const lost = ours({ will: { topic: `${t}/lost`, payload: "offline", qos: 1, retain: false } });
			await graceful.connected();
			await lost.connected();
			graceful.client.close();
			lost.client.close(false);
			await p.until(() => p.on(`${t}/lost`).length === 1, 5000, "the will");
			await sleep(300); // a window for what must not come: a will after DISCONNECT
			assert.equal(p.on(`${t}/graceful`).length, 0, "no will after DISCONNECT");
			assert.equal(p.on(`${t}/lost`)[0]!.payload.toString(), "offline");
			record("will", lost, from);
		});

		it("a retained message reaches a subscriber that comes later, with retain set", async () => {
			const from = now();
			const t = unique("matrix/retained");
			const o = ours();
			await o.connected();
			const id = o.client.publish(t, "kept", 1, true);
			await o.until(() => o.delivered.includes(id), 3000, "PUBACK");
			const p = await peer();
			await p.subscribe(t, 1); // the exact topic: RabbitMQ sends retained messages to exact-topic subscriptions only
			await p.until(() => p.on(t).length === 1, 3000, "the retained message");
			assert.equal(p.on(t)[0]!.retain, true);
			assert.equal(p.on(t)[0]!.payload.toString(), "kept");
			o.client.publish(t, "", 1, true); // cleared
			record("retained", o, from);
		});

		it("a persistent session: QoS 1 messages sent while our client was away arrive when it is back", async () => {
			const from = now();
			const t = unique("matrix/session");
			const first = ours({ cleanSession: false });
			const id = clientIds[clientIds.length - 1]!;
			await first.connected();
			assert.equal(await first.subscribe(`${t}/#`, 1), 1);
			first.client.close();
			const p = await peer();
			for (let i = 0; i < 5; i++) await p.publish(`${t}/m`, `${i}`, { qos: 1 });
			const back = new Ours({ port: target.port, clientId: id, cleanSession: false, reconnect: RECONNECT, ...target.ours });
			await back.connected();
			assert.equal(back.connects[0]!.sessionPresent, true);
			await back.until(() => back.on(`${t}/m`).length >= 5, 5000, "the 5 queued messages");
			assert.deepEqual([...new Set(back.on(`${t}/m`).map((m) => Buffer.from(m.payload).toString()))], ["0", "1", "2", "3", "4"]);
			record("persistent session", back, from);
		});

		it(`a subscription to ${FORBIDDEN} is refused (SUBACK ≥ 0x80, or set aside after closes), the others are made, no loop`, async () => {
			const from = now();
			const t = unique("matrix/refused");
			const o = ours();
			await o.connected();
			o.client.subscribe(`${t}/a`, 1, o.handler("a"));
			o.client.subscribe(`forbidden/${t}/#`, 1, o.handler("forbidden"));
			o.client.subscribe(`${t}/b`, 1, o.handler("b"));
			await o.until(() => o.subacks.length >= 3 && o.subacks.some((s) => s.filter === `${t}/b`), 10_000, "three answers");
			const refused = o.subacks.find((s) => s.filter === `forbidden/${t}/#`)!;
			assert.ok(refused.code >= 0x80, `refused: 0x${refused.code.toString(16)}`);
			assert.ok(o.subacks.filter((s) => s.filter !== refused.filter).every((s) => s.code === 1));
			await sleep(Math.max(0, from + WINDOW - now())); // the rest of the window passes on purpose: connections are counted over all of it
			const connections = o.client.stats.connects;
			assert.ok(connections <= backoffBound(WINDOW), `${connections} connections in ${WINDOW} ms (the backoff allows ${backoffBound(WINDOW)})`);
			assert.ok(o.client.connected, "connected at the end");
			const p = await peer();
			await p.publish(`${t}/b`, "after", { qos: 1 });
			await o.until(() => o.on(`${t}/b`).length === 1, 3000, "a message on an allowed subscription");
			const how = o.errors.some((e) => (e.error as MqttError).code === ErrorCode.REJECTED_BY_BROKER) ? "closed the connection: set aside" : `SUBACK 0x${refused.code.toString(16)}`;
			record(`refused subscription (${how})`, o, from, ` (window ${WINDOW} ms; the backoff allows ${backoffBound(WINDOW)})`);
		});

		it(`a QoS 1 publish to ${FORBIDDEN} does not hold up the messages behind it, no loop`, async () => {
			const from = now();
			const t = unique("matrix/forbidden");
			const p = await peer();
			await p.subscribe(`${t}/#`, 1);
			const o = ours({ cleanSession: false });
			await o.connected();
			const poison = o.client.publish(`forbidden/${t}`, "poison", 1);
			const behind = [1, 2, 3].map((i) => o.client.publish(`${t}/m`, `${i}`, 1));
			await p.until(() => p.on(`${t}/m`).length >= 3, 10_000, "the three messages behind it");
			await o.until(() => behind.every((id) => o.delivered.includes(id)), 5000, "their onDelivered");
			await sleep(Math.max(0, from + WINDOW - now())); // the rest of the window passes on purpose: connections are counted over all of it
			const connections = o.client.stats.connects;
			assert.ok(connections <= backoffBound(WINDOW), `${connections} connections in ${WINDOW} ms`);
			assert.equal(o.client.pending, 0);
			const setAside = o.rejected.some((r) => r.packetId === poison);
			assert.ok(setAside || o.delivered.includes(poison), "the forbidden one was either acknowledged (and dropped by the broker) or set aside");
			record(`forbidden publish (${setAside ? "closed the connection: set aside" : "acknowledged, dropped"})`, o, from, ` (window ${WINDOW} ms)`);
		});

		it(`a QoS 1 message over the broker's packet limit does not hold up the messages behind it, no loop`, async () => {
			const from = now();
			const t = unique("matrix/oversize");
			const p = await peer();
			await p.subscribe(`${t}/#`, 1);
			const o = ours({ cleanSession: false, txBufferSize: 8192, queueBytes: 16_384 });
			await o.connected();
			const big = o.client.publish(`${t}/big`, new Uint8Array(3000).fill(0x62), 1);
			const behind = [1, 2].map((i) => o.client.publish(`${t}/m`, `${i}`, 1));
			await o.until(() => behind.every((id) => o.delivered.includes(id)), 10_000, "the messages behind it delivered");
			await p.until(() => p.on(`${t}/m`).length >= 2, 5000, "the two at MQTT.js");
			await sleep(Math.max(0, from + WINDOW - now())); // the rest of the window passes on purpose: connections are counted over all of it
			assert.ok(o.client.stats.connects <= backoffBound(WINDOW), `${o.client.stats.connects} connections in ${WINDOW} ms`);
			if (target.limitsPackets) {
				assert.deepEqual(o.rejected.map((r) => r.packetId), [big], "set aside");
				assert.equal(p.on(`${t}/big`).length, 0);
			}
			else assert.ok(o.delivered.includes(big), "no limit: delivered");
			record(target.limitsPackets ? `oversize message (${MAX_PACKET}-byte limit: closed the connection, set aside)` : "oversize message (no limit: delivered)", o, from, ` (window ${WINDOW} ms)`);
		});

		it("a broker restart: our client comes back by itself; QoS 1 published during the outage delivered; its subscription works", async function () {
			this.timeout(90_000);
			const from = now();
			const t = unique("matrix/restart");
			const o = ours({ cleanSession: false, keepAlive: 5 });
			await o.connected();
			assert.equal(await o.subscribe(`${t}/in/#`, 1, o.handler("in")), 1);
			const restarting = target.restart();
			await o.until(() => !o.client.connected, 20_000, "the broker gone");
			const during = [1, 2, 3, 4, 5].map((i) => o.client.publish(`${t}/out`, `${i}`, 1));
			await restarting;
			await o.until(() => o.connects.length >= 2, 20_000, "reconnected");
			await o.until(() => during.every((id) => o.delivered.includes(id)), 10_000, "the messages published during the outage");
			// Resubscribed when the broker lost the session (session present 0), kept otherwise.
			assert.equal(o.connects[1]!.sessionPresent, target.keepsSessions);
			await o.until(() => o.subacks.length >= (target.keepsSessions ? 1 : 2), 5000, "the subscription made again");
			const p = await peer();
			await p.publish(`${t}/in/x`, "after", { qos: 1 });
			await o.until(() => o.on(`${t}/in/x`).length === 1, 5000, "a command after the restart");
			const recovered = o.connects[1]!.at - from;
			record("broker restart", o, from, ` (back ${Math.round(recovered)} ms after the restart began; session ${target.keepsSessions ? "kept" : "lost, subscriptions made again"})`);
		});
	});
}

after(() => {
	if (figures.length > 0) console.log(`\n  broker matrix (connections our client made per case):\n${figures.map((f) => `    ${f}`).join("\n")}\n`);
});
