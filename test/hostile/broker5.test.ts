// What an MQTT 5.0 broker may say that mosquitto will not say on cue, played by a scripted broker over
// real sockets to the Node client: enhanced authentication (and its refusal), Server Reference
// (CONNACK 0x9C, DISCONNECT 0x9D), DISCONNECT with a reason, and topic aliases set by the broker.

import * as assert from "node:assert/strict";
import { AUTH } from "../../modules/mqtt/constants.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { DISCONNECT, PUBACK, PUBLISH, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { PublishPacket } from "../../modules/mqtt/packet.js";
import { now, Ours } from "../lib/peers.js";
import { auth5, connack5, disconnect5, publish5, serve, until } from "../lib/scripted-broker.js";
import type { ScriptedBroker, ScriptedConnection, Step } from "../lib/scripted-broker.js";
import { CrashGuard, hooks, RECONNECT, scriptedBroker } from "./harness.js";

/** How much earlier than its backoff a reconnect may be seen: the client's clock counts whole ms. */
const EARLY = 2;
const METHOD = "SCRAM-SHA-256";
const text = (b: Uint8Array | undefined): string => b === undefined ? "-" : Buffer.from(b).toString();
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

let serial = 0;

const broker = (script: (index: number) => Step[]): Promise<ScriptedBroker> => scriptedBroker(script, 5);

/** A reconnect `gap` ms after the report that scheduled it, for a backoff of `backoff` ms. */
function assertBackoff(gap: number, backoff: number, what: string): void {
	assert.ok(gap >= backoff - EARLY && gap < backoff + 1000, `${what}: reconnected ${Math.round(gap)} ms after the report (backoff ${backoff} ms)`);
}

/** The AUTH packets the client sent on `c`: reason code, method, data. */
function auths(c: ScriptedConnection): Array<[number | undefined, unknown, string]> {
	return c.ofType(AUTH).map((s) => [s.reasonCode, s.properties?.authenticationMethod, text(s.properties?.authenticationData as Buffer | undefined)]);
}

describe("MQTT 5.0 broker, scripted: what real brokers will not say on cue", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);

	describe("enhanced authentication (5.0 §4.12)", () => {
		it("CONNECT carries the method and data; the broker's AUTH 0x18 goes to onAuth, whose answer goes back in AUTH 0x18; CONNACK; then re-authentication: AUTH 0x19, another step, AUTH 0x00 Success, and the connection stays", async () => {
			const b = await broker(() => [
				auth5(0x18, { authenticationMethod: METHOD, authenticationData: utf8("server-first") }),
				until("the client's answer", (c) => c.ofType(AUTH).length >= 1),
				connack5({ authenticationMethod: METHOD, authenticationData: utf8("server-final") }),
				serve(),
				until("AUTH 0x19", (c) => c.ofType(AUTH).length >= 2),
				auth5(0x18, { authenticationMethod: METHOD, authenticationData: utf8("server-again") }),
				until("the client's second answer", (c) => c.ofType(AUTH).length >= 3),
				auth5(0x00, { authenticationMethod: METHOD }),
			]);
			const steps: Array<{ code: number; data: string; at: number }> = [];
			const ours = new Ours({
				port: b.port, protocolVersion: 5, reconnect: RECONNECT,
				authenticationMethod: METHOD, authenticationData: utf8("client-first"),
				onAuth: (code, data) => {
					steps.push({ code, data: text(data), at: now() });
					return utf8(`proof of ${text(data)}`);
				},
			});
			await ours.connected();
			const c = b.connections[0]!;
			assert.equal(c.connect?.protocolLevel, 5);
			assert.equal(c.connectProperties?.authenticationMethod, METHOD);
			assert.equal(text(c.connectProperties?.authenticationData as Buffer), "client-first");
			assert.deepEqual(steps.map((s) => [s.code, s.data]), [[0x18, "server-first"]]);
			assert.ok(steps[0]!.at <= ours.connects[0]!.at, "onAuth before onConnect");
			assert.deepEqual(auths(c), [[0x18, METHOD, "proof of server-first"]]);

			ours.client.reauthenticate(utf8("client-again"));
			await b.signal.until(() => c.ofType(AUTH).length >= 3, 3000, "the re-authentication");
			assert.deepEqual(auths(c), [[0x18, METHOD, "proof of server-first"], [0x19, METHOD, "client-again"], [0x18, METHOD, "proof of server-again"]]);
			assert.deepEqual(steps.map((s) => [s.code, s.data]), [[0x18, "server-first"], [0x18, "server-again"]]);
			// After AUTH 0x00 the connection goes on: a QoS 1 message is delivered on it.
			const id = ours.client.publish("after/reauth", "ok", 1);
			await ours.until(() => ours.delivered.includes(id), 3000, "the message after re-authentication");
			assert.ok(ours.client.connected);
			assert.deepEqual(ours.closes, []);
			assert.deepEqual(ours.errors, []);
			assert.equal(b.connections.length, 1);
			assert.deepEqual(b.problems, []);
			assert.deepEqual(guard.caught, []);
		});

		it("a wrong answer is refused by CONNACK 0x87 / 0x8C: a typed error with the reason each time, no DISCONNECT back, and the attempts back off (no fast loop)", async () => {
			const b = await broker((index) => [
				auth5(0x18, { authenticationMethod: METHOD, authenticationData: utf8(`challenge ${index}`) }),
				until("the client's answer", (c) => c.ofType(AUTH).length >= 1),
				connack5({ reasonString: "proof does not verify" }, false, index % 2 === 0 ? 0x87 : 0x8C),
			]);
			const ours = new Ours({
				port: b.port, protocolVersion: 5, reconnect: RECONNECT,
				authenticationMethod: METHOD, authenticationData: utf8("client-first"),
				onAuth: (_code, data) => utf8(`wrong proof of ${text(data)}`),
			});
			await ours.until(() => ours.errors.length >= 4, 5000, "four refusals");
			const errors = ours.errors.slice(0, 4).map((e) => e.error as MqttError);
			assert.deepEqual(errors.map((e) => [e.code, e.reasonCode]), [
				[ErrorCode.NOT_AUTHORIZED, 0x87], [ErrorCode.BAD_USERNAME_OR_PASSWORD, 0x8C],
				[ErrorCode.NOT_AUTHORIZED, 0x87], [ErrorCode.BAD_USERNAME_OR_PASSWORD, 0x8C],
			]);
			for (const e of errors) assert.match(e.message, /proof does not verify/);
			assert.deepEqual(ours.connects, [], "never connected");
			for (let i = 0; i < 4; i++) {
				const c = b.connections[i]!;
				assert.deepEqual(auths(c), [[0x18, METHOD, `wrong proof of challenge ${i}`]], `connection ${i}: the answer`);
				assert.deepEqual(c.ofType(DISCONNECT), [], `connection ${i}: a refusal is not answered (5.0 §3.2.2.2)`);
				await b.signal.until(() => c.closed, 2000, `connection ${i} closed`);
				assert.equal(c.closedBy, "client", `connection ${i}: the client closed it`);
			}
			// 100, 200, 400 ms: each refused attempt doubles the delay.
			for (let i = 0; i < 3; i++) assertBackoff(b.connections[i + 1]!.acceptedAt - ours.errors[i]!.at, RECONNECT.initialDelay * 2 ** i, `attempt ${i + 2}`);
			assert.deepEqual(guard.caught, []);
		});
	});

	describe("Server Reference (5.0 §4.11)", () => {
		it("CONNACK 0x9C Use another server with followServerReference: the next attempt, after the backoff, goes to the server named; client.server names it", async () => {
			const other = await broker(() => [connack5(), serve()]);
			const reference = `127.0.0.1:${other.port}`;
			const first = await broker(() => [connack5({ serverReference: reference, reasonString: "go elsewhere" }, false, 0x9C)]);
			const ours = new Ours({ port: first.port, protocolVersion: 5, reconnect: RECONNECT, followServerReference: true });
			assert.equal(ours.client.server, `127.0.0.1:${first.port}`);
			await ours.connected();
			const error = ours.errors[0]!.error as MqttError;
			assert.equal(error.code, ErrorCode.USE_ANOTHER_SERVER);
			assert.equal(error.reasonCode, 0x9C);
			assert.equal(error.serverReference, reference);
			assert.equal(ours.errors.length, 1);
			assert.equal(ours.client.server, reference);
			assert.equal(first.connections.length, 1, "not tried again");
			assert.equal(first.connections[0]!.closedBy, "client");
			assertBackoff(other.connections[0]!.acceptedAt - ours.errors[0]!.at, RECONNECT.initialDelay, "the other server");
			const id = ours.client.publish("moved/x", "here", 1);
			await ours.until(() => ours.delivered.includes(id), 3000, "a message through the other server");
			assert.equal(other.connections[0]!.publishes()[0]!.topic, "moved/x");
			assert.deepEqual(guard.caught, []);
		});

		it("DISCONNECT 0x9D Server moved with followServerReference: onClose names the reference; the client reconnects to it after the backoff", async () => {
			const other = await broker(() => [connack5(), serve()]);
			const reference = `127.0.0.1:${other.port}`;
			const first = await broker(() => [connack5(), serve(), until("a PUBLISH", (c) => c.publishes().length > 0), disconnect5(0x9D, { serverReference: reference, reasonString: "moved for good" })]);
			const ours = new Ours({ port: first.port, protocolVersion: 5, reconnect: RECONNECT, followServerReference: true });
			await ours.connected();
			ours.client.publish("before/move", "x", 1);
			await ours.connected(2);
			const error = ours.closes[0]!.error!;
			assert.equal(error.code, ErrorCode.DISCONNECTED_BY_BROKER);
			assert.equal(error.reasonCode, 0x9D);
			assert.equal(error.serverReference, reference);
			assert.match(error.message, /moved for good/);
			assert.equal(ours.client.server, reference);
			assert.equal(first.connections.length, 1);
			assert.deepEqual(first.connections[0]!.ofType(DISCONNECT), [], "the broker's DISCONNECT is not answered with one (5.0 §3.14)");
			assertBackoff(other.connections[0]!.acceptedAt - ours.closes[0]!.at, RECONNECT.initialDelay, "the other server");
			assert.deepEqual(ours.errors, []);
			assert.deepEqual(guard.caught, []);
		});

		it("without followServerReference the client stays on its server: the errors carry the reference, the other server sees nothing", async () => {
			const other = await broker(() => [connack5(), serve()]);
			const reference = `127.0.0.1:${other.port}`;
			const first = await broker((index) =>
				index === 0 ? [connack5({ serverReference: reference }, false, 0x9C)]
				: index === 1 ? [connack5(), disconnect5(0x9D, { serverReference: reference })]
				: [connack5(), serve()]);
			const ours = new Ours({ port: first.port, protocolVersion: 5, reconnect: RECONNECT });
			await ours.connected(2);
			assert.equal(ours.errors.length, 1);
			const refused = ours.errors[0]!.error as MqttError;
			assert.deepEqual([refused.code, refused.reasonCode, refused.serverReference], [ErrorCode.USE_ANOTHER_SERVER, 0x9C, reference]);
			const moved = ours.closes[0]!.error!;
			assert.deepEqual([moved.code, moved.reasonCode, moved.serverReference], [ErrorCode.DISCONNECTED_BY_BROKER, 0x9D, reference]);
			assert.equal(ours.client.server, `127.0.0.1:${first.port}`);
			assert.equal(first.connections.length, 3);
			assert.equal(other.connections.length, 0);
			// Both attempts failed young: 100 then 200 ms.
			assertBackoff(first.connections[1]!.acceptedAt - ours.errors[0]!.at, RECONNECT.initialDelay, "after CONNACK 0x9C");
			assertBackoff(first.connections[2]!.acceptedAt - ours.closes[0]!.at, RECONNECT.initialDelay * 2, "after DISCONNECT 0x9D");
			assert.deepEqual(guard.caught, []);
		});
	});

	it("DISCONNECT with a reason (0x8B Server shutting down, 0x97 Quota exceeded): onClose gets DISCONNECTED_BY_BROKER with the code and the reason string; nothing is sent back; the client reconnects with backoff and the message in flight is delivered once (5.0 §3.14)", async () => {
		const b = await broker((index) => {
			const sent = until("the message", (c) => c.publishes().length > 0);
			if (index === 0) return [connack5(), sent, disconnect5(0x8B, { reasonString: "maintenance at 02:00" })];
			if (index === 1) return [connack5({}, true), sent, disconnect5(0x97, { reasonString: "daily message quota used" })];
			return [connack5({}, true), serve()];
		});
		const ours = new Ours({ port: b.port, protocolVersion: 5, reconnect: RECONNECT, clientId: `reasons-${process.pid}-${++serial}`, cleanSession: false });
		await ours.connected();
		const id = ours.client.publish("meter/1", "42 kWh", 1);
		await ours.until(() => ours.delivered.length >= 1, 5000, "the message delivered");
		assert.deepEqual(ours.closes.map((c) => [c.error?.code, c.error?.reasonCode]), [
			[ErrorCode.DISCONNECTED_BY_BROKER, 0x8B], [ErrorCode.DISCONNECTED_BY_BROKER, 0x97],
		]);
		assert.match(ours.closes[0]!.error!.message, /0x8b Server shutting down: maintenance at 02:00/);
		assert.match(ours.closes[1]!.error!.message, /0x97 Quota exceeded: daily message quota used/);
		assert.deepEqual(ours.delivered, [id]);
		assert.deepEqual(b.connections.map((c) => c.publishes().map((p: PublishPacket) => [p.packetId, p.dup])), [[[id, false]], [[id, true]], [[id, true]]]);
		for (const c of b.connections.slice(0, 2)) {
			assert.deepEqual(c.ofType(DISCONNECT), [], "nothing sent after the broker's DISCONNECT");
			assert.equal(c.closedBy, "client", "the client closed the connection");
		}
		// Neither connection proved itself (no acknowledgement, well within stableAfter): 100, then 200 ms.
		assertBackoff(b.connections[1]!.acceptedAt - ours.closes[0]!.at, RECONNECT.initialDelay, "after 0x8B");
		assertBackoff(b.connections[2]!.acceptedAt - ours.closes[1]!.at, RECONNECT.initialDelay * 2, "after 0x97");
		assert.deepEqual(ours.errors, []);
		assert.deepEqual(guard.caught, []);
	});

	it("topic aliases set by the broker (inboundTopicAliases): PUBLISHes with an empty topic reach the handlers under the alias's topic; an alias above our maximum is answered DISCONNECT 0x94; none is carried to the next connection (5.0 §3.3.2.3.4)", async () => {
		const subscribed = until("the SUBSCRIBEs", (c) => c.ofType(SUBSCRIBE).length >= 2);
		const b = await broker((index) => index === 0 ? [
			connack5(), serve(), subscribed,
			publish5("sensors/kitchen/temp", "20.5", 0, 0, { topicAlias: 1 }),
			publish5("", "20.6", 1, 5, { topicAlias: 1 }),
			publish5("sensors/hall/temp", "19.0", 0, 0, { topicAlias: 4 }),
			publish5("", "20.7", 0, 0, { topicAlias: 1 }),
			publish5("", "19.1", 0, 0, { topicAlias: 4 }),
			until("PUBACK 5", (c) => c.ofType(PUBACK).length > 0),
			publish5("sensors/attic/temp", "beyond", 0, 0, { topicAlias: 5 }),
		] : index === 1 ? [
			// Alias 4 was set on the connection before: here it names nothing.
			connack5(), serve(), subscribed,
			publish5("", "stale", 0, 0, { topicAlias: 4 }),
		] : [
			connack5(), serve(), subscribed,
			publish5("sensors/attic/temp", "15.0", 0, 0, { topicAlias: 1 }),
			publish5("", "15.5", 0, 0, { topicAlias: 1 }),
		]);
		const seen: Array<[string, string, string, boolean]> = [];
		const record = (via: string) => (m: { topic(): string; payloadText(): string; topicEquals(t: string): boolean }): void => {
			seen.push([via, m.topic(), m.payloadText(), m.topicEquals(m.topic()) && !m.topicEquals("")]);
			ours.signal.notify();
		};
		const ours = new Ours({ port: b.port, protocolVersion: 5, reconnect: RECONNECT, inboundTopicAliases: 4 });
		await ours.connected();
		ours.client.subscribe("sensors/kitchen/#", 1, record("kitchen"));
		ours.client.subscribe("sensors/+/temp", 1, record("temp"));
		await ours.until(() => ours.closes.length >= 1 && seen.length >= 9, 5000, "the aliased messages and the close");
		const c0 = b.connections[0]!;
		assert.equal(c0.connectProperties?.topicAliasMaximum, 4, "CONNECT announces the Topic Alias Maximum");
		assert.deepEqual(seen.slice(0, 7), [
			["kitchen", "sensors/kitchen/temp", "20.5", true], ["temp", "sensors/kitchen/temp", "20.5", true],
			["kitchen", "sensors/kitchen/temp", "20.6", true], ["temp", "sensors/kitchen/temp", "20.6", true],
			["temp", "sensors/hall/temp", "19.0", true],
			["kitchen", "sensors/kitchen/temp", "20.7", true], ["temp", "sensors/kitchen/temp", "20.7", true],
		]);
		assert.deepEqual(seen[7], ["temp", "sensors/hall/temp", "19.1", true]);
		assert.deepEqual(c0.ofType(PUBACK).map((s) => (s.packet as { packetId: number }).packetId), [5]);
		// Alias 5, above the 4 announced: DISCONNECT 0x94 Topic Alias invalid, then the close; not delivered.
		const error = ours.closes[0]!.error!;
		assert.equal(error.code, ErrorCode.TOPIC_ALIAS_INVALID);
		assert.equal(error.reasonCode, 0x94);
		assert.equal(c0.last?.packet.type, DISCONNECT);
		assert.equal(c0.last?.reasonCode, 0x94);
		assert.equal(c0.closedBy, "client");
		assert.ok(!seen.some((s) => s[2] === "beyond"), "the message with the bad alias is not delivered");
		// The next connection: alias 4, not set on it, is a Protocol Error (MQTT-3.3.2-7: no mapping is carried forward).
		await ours.until(() => ours.closes.length >= 2 && seen.length >= 10, 5000, "the stale alias refused, and the messages on the connection after");
		const stale = ours.closes[1]!.error!;
		assert.deepEqual([stale.code, stale.reasonCode], [ErrorCode.TOPIC_ALIAS_INVALID, 0x82]);
		const c1 = b.connections[1]!;
		assert.deepEqual([c1.last?.packet.type, c1.last?.reasonCode], [DISCONNECT, 0x82]);
		assert.ok(!seen.some((s) => s[2] === "stale"), "the message with the stale alias is not delivered");
		// The third sets alias 1 anew, to another topic.
		assert.deepEqual(seen.slice(8), [["temp", "sensors/attic/temp", "15.0", true], ["temp", "sensors/attic/temp", "15.5", true]]);
		assertBackoff(c1.acceptedAt - ours.closes[0]!.at, RECONNECT.initialDelay, "after DISCONNECT 0x94");
		for (const c of b.connections) assert.equal(c.ofType(PUBLISH).length, 0);
		assert.deepEqual(ours.errors, []);
		assert.deepEqual(b.problems, []);
		assert.deepEqual(guard.caught, []);
	});
});
