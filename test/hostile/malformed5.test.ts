// A broker speaking MQTT 5.0 that breaks its rules after CONNACK (or in it): each ends the connection
// from the client's side with a DISCONNECT naming the reason (0x81 Malformed Packet, 0x82 Protocol
// Error, 5.0 §4.13), a typed error, and a reconnect after the backoff that re-sends every
// unacknowledged message with DUP. And one it must not end on: a payload marked UTF-8 that is not.

import * as assert from "node:assert/strict";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { PUBACK, PUBLISH, PUBREC, PUBREL, SUBSCRIBE } from "../../modules/mqtt/packet.js";
import { Ours } from "../lib/peers.js";
import { auth5, connack5, publish5, send, serve, until } from "../lib/scripted-broker.js";
import type { Step } from "../lib/scripted-broker.js";
import { assertRecovered, CrashGuard, hooks, RECONNECT, run, scriptedBroker } from "./harness.js";
import type { Scenario } from "./harness.js";

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;

/** Hex ("30 0C 00 01 ...", spaces free) as bytes. */
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("hostile broker, MQTT 5.0: broken rules end the connection with a DISCONNECT that names them", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);

	async function check(s: Omit<Scenario, "protocolVersion">): Promise<void> {
		const scenario: Scenario = { ...s, protocolVersion: 5 };
		const o = await run(scenario);
		assertRecovered(scenario, o, guard);
		assert.equal(o.broker.connections[0]!.connect?.protocolLevel, 5, "the client spoke MQTT 5.0");
	}

	it("a property given twice (content type in a PUBLISH): DUPLICATE_PROPERTY, DISCONNECT 0x82 (5.0 §3.3.2.3.9)", async () => {
		await check({ phase: "connected", code: ErrorCode.DUPLICATE_PROPERTY, disconnect: PROTOCOL_ERROR, hostile: [send(bytes("30 0C 0001 61 08 03 0001 78 03 0001 78"))] });
	});

	it("an unknown property identifier (0x7F): UNKNOWN_PROPERTY, DISCONNECT 0x81 (5.0 §2.2.2.2)", async () => {
		await check({ phase: "connected", code: ErrorCode.UNKNOWN_PROPERTY, disconnect: MALFORMED, hostile: [send(bytes("30 06 0001 61 02 7F 00"))] });
	});

	it("a property its packet may not carry (Session Expiry Interval in a PUBLISH): PROPERTY_NOT_ALLOWED, DISCONNECT 0x81 (5.0 §2.2.2.2)", async () => {
		await check({ phase: "connected", code: ErrorCode.PROPERTY_NOT_ALLOWED, disconnect: MALFORMED, hostile: [send(bytes("30 09 0001 61 05 11 0000 0001"))] });
	});

	it("Receive Maximum 0 in CONNACK: INVALID_PROPERTY_VALUE while connecting, DISCONNECT 0x82 (5.0 §3.2.2.3.3)", async () => {
		await check({ phase: "connecting", code: ErrorCode.INVALID_PROPERTY_VALUE, disconnect: PROTOCOL_ERROR, hostile: [send(bytes("20 06 00 00 03 21 0000"))] });
	});

	it("topic alias 0: INVALID_PROPERTY_VALUE, DISCONNECT 0x82 (5.0 §3.3.2.3.4)", async () => {
		await check({ phase: "connected", code: ErrorCode.INVALID_PROPERTY_VALUE, disconnect: PROTOCOL_ERROR, hostile: [send(bytes("30 07 0001 61 03 23 0000"))] });
	});

	it("a reason code its packet may not carry (PUBACK 0x92, for a message really in flight, which stays unacknowledged): INVALID_RETURN_CODE, DISCONNECT 0x82 (5.0 §3.4.2.1)", async () => {
		// The identifier of the first QoS 1 message: a lenient client would take it as acknowledged (or refused).
		const puback = send((c) => {
			const id = c.publishes()[0]!.packetId!;
			return Uint8Array.of(PUBACK << 4, 3, id >> 8, id & 0xFF, 0x92);
		});
		await check({ phase: "connected", code: ErrorCode.INVALID_RETURN_CODE, disconnect: PROTOCOL_ERROR, hostile: [puback] });
	});

	it("a property length past the end of the packet: MALFORMED_PROPERTIES, DISCONNECT 0x81 (5.0 §2.2.2.1)", async () => {
		await check({ phase: "connected", code: ErrorCode.MALFORMED_PROPERTIES, disconnect: MALFORMED, hostile: [send(bytes("30 05 0001 61 10 78"))] });
	});

	it("AUTH when no enhanced authentication was asked for: AUTHENTICATION_FAILED, DISCONNECT 0x82 (5.0 §4.12)", async () => {
		await check({ phase: "connected", code: ErrorCode.AUTHENTICATION_FAILED, disconnect: PROTOCOL_ERROR, hostile: [auth5(0x18, { authenticationMethod: "SCRAM-SHA-256" })] });
	});

	it("AUTH 0x18 after CONNACK when the client began no re-authentication: UNEXPECTED_PACKET, DISCONNECT 0x82, and onAuth is not asked (5.0 §4.12.1: only the client starts one)", async () => {
		const asked: number[] = [];
		const client = { authenticationMethod: "SCRAM-SHA-256", onAuth: (code: number): Uint8Array => { asked.push(code); return Uint8Array.of(1); } };
		await check({ phase: "connected", code: ErrorCode.UNEXPECTED_PACKET, disconnect: PROTOCOL_ERROR, client, hostile: [auth5(0x18, { authenticationMethod: "SCRAM-SHA-256" })] });
		assert.deepEqual(asked, [], "no answer computed for a step nobody asked for");
	});

	it("a packet larger than the Maximum Packet Size the client announced (its receive buffer): PACKET_TOO_LARGE, DISCONNECT 0x95 (5.0 §3.1.2.11.4)", async () => {
		// PUBLISH "a", no properties, 2,000 bytes of payload: 2,006 bytes, above the 1,024 announced.
		const big = new Uint8Array(2006).fill(0x61);
		big.set([0x30, 0xD3, 0x0F, 0x00, 0x01, 0x61, 0x00], 0);
		await check({ phase: "connected", code: ErrorCode.PACKET_TOO_LARGE, disconnect: 0x95, hostile: [send(big)] });
	});
});

describe("hostile broker, MQTT 5.0: a payload marked UTF-8 that is not", function () {
	this.timeout(10_000);
	const guard = new CrashGuard();
	hooks(guard);

	it("is answered PUBACK / PUBREC 0x99, reported as PAYLOAD_FORMAT_INVALID, not delivered; the connection stays and the next message is delivered (5.0 §3.3.2.3.2)", async () => {
		const marked = { payloadFormatIndicator: 1 };
		const script: Step[] = [
			connack5(), serve(),
			until("the SUBSCRIBE", (c) => c.ofType(SUBSCRIBE).length > 0),
			publish5("cmd/a", Uint8Array.of(0xFF, 0xFE), 1, 7, marked),
			publish5("cmd/b", Uint8Array.of(0xC3, 0x28), 2, 8, marked),
			publish5("cmd/c", "wellformed ✓", 1, 9, marked),
			until("three acknowledgements", (c) => c.ofType(PUBACK).length + c.ofType(PUBREC).length >= 3),
		];
		const broker = await scriptedBroker(() => script, 5);
		const ours = new Ours({ port: broker.port, protocolVersion: 5, reconnect: RECONNECT });
		await ours.connected();
		await ours.subscribe("cmd/#", 1, ours.handler("cmd"));
		await ours.until(() => ours.messages.length >= 1 && ours.errors.length >= 2, 3000, "the errors and the good message");
		const c = broker.connections[0]!;
		await broker.signal.until(() => c.ofType(PUBACK).length >= 2 && c.ofType(PUBREC).length >= 1, 3000, "the acknowledgements");

		const errors = ours.errors.map((e) => e.error as MqttError);
		assert.deepEqual(errors.map((e) => [e.code, e.topic]), [[ErrorCode.PAYLOAD_FORMAT_INVALID, "cmd/a"], [ErrorCode.PAYLOAD_FORMAT_INVALID, "cmd/b"]]);
		assert.deepEqual(ours.messages.map((m) => [m.via, m.topic, Buffer.from(m.payload).toString()]), [["cmd", "cmd/c", "wellformed ✓"]], "only the well-formed one reached the handler");
		const acks = [...c.ofType(PUBACK), ...c.ofType(PUBREC)].map((s) => [s.packet.type, (s.packet as { packetId: number }).packetId, s.reasonCode ?? 0]);
		assert.deepEqual(acks.sort((a, b) => a[1]! - b[1]!), [[PUBACK, 7, 0x99], [PUBREC, 8, 0x99], [PUBACK, 9, 0]]);
		// PUBREC 0x99 ends the QoS 2 exchange (5.0 §4.3.3): nothing more for it.
		assert.deepEqual(c.ofType(PUBREL), []);
		assert.equal(ours.client.stats.payloadFormatInvalid, 2);
		assert.equal(ours.client.stats.messagesReceived, 1);
		assert.deepEqual(ours.closes, [], "the connection stays");
		assert.equal(broker.connections.length, 1);
		assert.equal(c.closed, false);
		assert.equal(c.ofType(PUBLISH).length, 0);
		assert.deepEqual(broker.problems, []);
		assert.deepEqual(guard.caught, []);
	});
});
