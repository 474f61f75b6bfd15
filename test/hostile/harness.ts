// One hostile-broker scenario end to end: QoS 1/2 messages left unacknowledged, the misbehaviour, the
// client's typed error and close (with MQTT 5.0, after a DISCONNECT naming the reason), the reconnect
// after the backoff, and the messages re-sent with DUP.

import * as assert from "node:assert/strict";
import type { NodeClientOptions } from "../../hosts/node/index.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { DISCONNECT, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import type { QoS } from "../../modules/mqtt/packet.js";
import { closeAll, Ours } from "../lib/peers.js";
import { close, connack, connack5, ScriptedBroker, serve, until } from "../lib/scripted-broker.js";
import type { ScriptedConnection, Step } from "../lib/scripted-broker.js";

/** The reconnect policy of every scenario: 100 ms, then 200 ms, ... (no jitter, so the delays are exact). */
export const RECONNECT = { initialDelay: 100, factor: 2, maxDelay: 1000, jitter: 0 } as const;
/** How much earlier than its backoff a reconnect may be seen: the client's clock is performance.now() floored to ms. */
const EARLY = 2;

/** What the app published before the misbehaviour: the broker saw them and acknowledged none. */
export const MESSAGES: ReadonlyArray<{ topic: string; payload: string; qos: QoS }> = [
	{ topic: "hostile/a", payload: "first qos 1", qos: 1 },
	{ topic: "hostile/b", payload: "first qos 2", qos: 2 },
	{ topic: "hostile/a", payload: "second qos 1", qos: 1 },
	{ topic: "hostile/b", payload: "second qos 2", qos: 2 },
];

/** Records uncaught exceptions and unhandled rejections while installed (the process must see none). */
export class CrashGuard {
	readonly caught: unknown[] = [];
	private readonly record = (error: unknown): void => {
		this.caught.push(error);
	};
	install(): void {
		process.on("uncaughtException", this.record);
		process.on("unhandledRejection", this.record);
	}
	remove(): void {
		process.off("uncaughtException", this.record);
		process.off("unhandledRejection", this.record);
	}
}

export interface Scenario {
	/**
	 * "connected": the misbehaviour follows CONNACK on the connection that carried the messages.
	 * "connecting": that connection is closed by the broker; the next one misbehaves before any CONNACK.
	 */
	phase: "connected" | "connecting";
	/** The misbehaving connection's script (after CONNACK and the messages for "connected"; after CONNECT for "connecting"). */
	hostile: Step[];
	/** The code the client must report (onClose when it was connected, onError when not). */
	code: ErrorCode;
	keepAlive?: number;
	connectTimeout?: number;
	/** A filter subscribed to before the misbehaviour; its SUBSCRIBE is in flight too. */
	subscribe?: string;
	/** How long the error may take to come (default 3000 ms). */
	timeout?: number;
	/** 5: the broker and the client speak MQTT 5.0 (default 4, MQTT 3.1.1). */
	protocolVersion?: 4 | 5;
	/**
	 * MQTT 5.0: the reason code of the DISCONNECT the client sends before it closes (5.0 §4.13: 0x81
	 * Malformed Packet, 0x82 Protocol Error, ...), which the error carries too; undefined: none is sent.
	 */
	disconnect?: number;
	/** More client options (enhanced authentication, say). */
	client?: Partial<NodeClientOptions>;
}

export interface Outcome {
	ours: Ours;
	broker: ScriptedBroker;
	/** The identifiers publish() returned, in MESSAGES order. */
	ids: number[];
	/** The connection that misbehaved and the one that came after it. */
	hostile: ScriptedConnection;
	resumed: ScriptedConnection;
	error: MqttError;
	/** When the client reported the error (performance.now()). */
	errorAt: number;
}

let serial = 0;

/** Runs the scenario up to the point where everything was re-sent and acknowledged. */
export async function run(s: Scenario): Promise<Outcome> {
	const hostileIndex = s.phase === "connected" ? 0 : 1;
	const carried = until("the in-flight messages", (c) =>
		c.publishes().length >= MESSAGES.length && (s.subscribe === undefined || c.ofType(SUBSCRIBE).length > 0));
	const version = s.protocolVersion ?? 4;
	const accept = (sessionPresent: boolean): Step => version === 5 ? connack5({}, sessionPresent) : connack(sessionPresent);
	const broker = await scriptedBroker((index): Step[] => {
		if (index === 0) return s.phase === "connected" ? [accept(false), carried, ...s.hostile] : [accept(false), carried, close()];
		if (index === hostileIndex) return s.hostile;
		return [accept(true), serve()];
	}, version);
	const ours = new Ours({
		port: broker.port, clientId: `hostile-${process.pid}-${++serial}`, cleanSession: false, protocolVersion: version,
		keepAlive: s.keepAlive ?? 10, connectTimeout: s.connectTimeout ?? 2000, reconnect: RECONNECT, ...s.client,
	});
	await ours.connected(1);
	if (s.subscribe !== undefined) ours.client.subscribe(s.subscribe, 1);
	const ids = MESSAGES.map((m) => ours.client.publish(m.topic, m.payload, m.qos));

	const reports = s.phase === "connected" ? ours.closes : ours.errors;
	await ours.until(() => reports.length >= 1, s.timeout ?? 3000, `the client's report of the misbehaviour (${s.code})`);
	const report = reports[0]!;
	const hostile = await broker.connection(hostileIndex);
	const resumed = await broker.connection(hostileIndex + 1, 3000);
	await ours.until(() => ours.client.pending === 0 && ours.delivered.length >= MESSAGES.length, 3000, "every message re-sent and acknowledged", 20);
	return { ours, broker, ids, hostile, resumed, error: report.error as MqttError, errorAt: report.at };
}

/** The checks every scenario shares. */
export function assertRecovered(s: Scenario, o: Outcome, guard: CrashGuard): void {
	// A typed error with the expected code.
	assert.ok(o.error instanceof MqttError, `an MqttError, not ${String(o.error)}`);
	assert.equal(o.error.code, s.code);
	if (s.phase === "connected") {
		assert.deepEqual(o.ours.errors.map((e) => e.error.message), [], "no onError besides the onClose");
	}
	else {
		assert.equal(o.ours.closes.length, 1, "onClose once: the first connection, which the broker closed");
		assert.equal(o.ours.closes[0]!.error?.code, ErrorCode.CONNECTION_LOST);
		assert.equal(o.ours.errors.length, 1, "onError once: the misbehaving attempt");
	}

	// The client closed the connection (the broker did not); with MQTT 5.0, saying why first.
	assert.equal(o.hostile.closedBy, "client", "the client closed the misbehaving connection");
	assert.ok(o.hostile.closedAt >= o.errorAt - 5, "the close came with the error");
	if (s.protocolVersion === 5) {
		const disconnects = o.hostile.ofType(DISCONNECT);
		if (s.disconnect === undefined) assert.deepEqual(disconnects, [], "no DISCONNECT");
		else {
			assert.equal(o.hostile.last?.packet.type, DISCONNECT, "DISCONNECT is the last packet the client sent");
			assert.equal(disconnects.length, 1);
			assert.equal(disconnects[0]!.reasonCode, s.disconnect, "its reason code");
			assert.equal(o.error.reasonCode, s.disconnect, "the error's reason code");
		}
	}

	// Reconnection per policy: after the backoff, not before; "connecting" is the second failure in a row.
	// Measured from the client's report, made as it closed and scheduled the reconnect (the broker may
	// see the close later on a busy machine, never earlier); the client's clock counts whole ms.
	const backoff = s.phase === "connected" ? RECONNECT.initialDelay : RECONNECT.initialDelay * RECONNECT.factor;
	const gap = o.resumed.acceptedAt - o.errorAt;
	assert.ok(gap >= backoff - EARLY && gap < backoff + 1000, `reconnected ${Math.round(gap)} ms after the error (backoff ${backoff} ms)`);
	if (s.phase === "connecting") {
		const gap0 = o.hostile.acceptedAt - o.ours.closes[0]!.at;
		assert.ok(gap0 >= RECONNECT.initialDelay - EARLY, `first reconnect ${Math.round(gap0)} ms after the close`);
	}
	assert.equal(o.resumed.connect?.cleanSession, false);
	assert.equal(o.resumed.connect?.clientId, o.broker.connections[0]!.connect?.clientId);

	// Nothing accepted from the app was lost: re-sent with DUP, same identifiers, same order, then completed.
	const expected = MESSAGES.map((m, i) => ({ topic: m.topic, payload: m.payload, qos: m.qos, packetId: o.ids[i], dup: true }));
	const original = o.broker.connections[0]!.publishes().map((p) => ({ packetId: p.packetId, dup: p.dup }));
	assert.deepEqual(original, o.ids.map((id) => ({ packetId: id, dup: false })), "the first sending");
	const again = o.resumed.publishes().map((p) => ({
		topic: p.topic, payload: Buffer.from(p.payload as Uint8Array).toString(), qos: p.qos, packetId: p.packetId, dup: p.dup,
	}));
	assert.deepEqual(again, expected, "re-sent after the reconnect");
	assert.equal(o.ours.client.pending, 0);
	assert.deepEqual([...o.ours.delivered].sort((a, b) => a - b), [...o.ids].sort((a, b) => a - b), "each delivered once");
	assert.deepEqual(o.ours.connects.map((c) => c.sessionPresent), [false, true]);
	assert.equal(o.broker.connections.length, o.resumed.index + 1, "no further connection");

	// No crash, and nothing on the broker's side went wrong.
	assert.deepEqual(o.broker.problems, []);
	assert.deepEqual(guard.caught, [], "uncaught exceptions");
}

const scenarioBrokers: ScriptedBroker[] = [];

/** A scripted broker (ScriptedBroker.start) that `stopAll`, and so `hooks`, stops after the test. */
export async function scriptedBroker(script: (index: number) => Step[], version: 4 | 5 = 4): Promise<ScriptedBroker> {
	const broker = await ScriptedBroker.start(script, version);
	scenarioBrokers.push(broker);
	return broker;
}

/** For afterEach: every client (closeAll) and every scripted broker. */
export async function stopAll(): Promise<void> {
	await closeAll();
	const brokers = scenarioBrokers.splice(0, scenarioBrokers.length);
	await Promise.all(brokers.map((b) => b.close()));
}

/** Mocha hooks for a file of scenarios: the crash guard installed around each test, everything stopped after. */
export function hooks(guard: CrashGuard): void {
	beforeEach(() => guard.install());
	afterEach(async () => {
		guard.remove();
		await stopAll();
	});
	after(stopAll);
}
