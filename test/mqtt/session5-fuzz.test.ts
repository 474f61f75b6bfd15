// The MQTT 5.0 session under a hostile broker: streams of broker packets made by mqtt-packet (the
// second codec) with random properties and reason codes, some mutated byte by byte, fed in random
// chunks to a 5.0 session while the app publishes and subscribes at random. Whatever comes, the
// reader refuses with an MqttError or the session fails the connection with one; nothing else is
// ever thrown, no message is reported delivered twice or without having been published, and a
// DISCONNECT the client sends carries a reason code allowed there (5.0 §3.14.2.1).

import * as assert from "node:assert/strict";
import { generate } from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { MqttError } from "../../modules/mqtt/errors.js";
import { reasonAllowed } from "../../modules/mqtt/reason-codes.js";
import { CONNECTED, DISCONNECTED } from "../../modules/mqtt/session.js";
import type { QoS } from "../../modules/mqtt/packet.js";
import { Random } from "../lib/random.js";
import { Harness } from "../suites/session.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0) || ((Date.now() ^ (process.pid << 8)) >>> 0);
const STREAMS = Number(process.env.FUZZ_ITERATIONS ?? 0) || 3_000;

const CODES = [0x00, 0x01, 0x02, 0x10, 0x11, 0x18, 0x19, 0x80, 0x83, 0x87, 0x8E, 0x8F, 0x91, 0x92, 0x93, 0x94, 0x97, 0x99, 0x9C, 0xA2];

function text(r: Random, max: number): string {
	let s = "";
	for (let n = r.int(1, max); n > 0; n--) s += r.pick(["a", "b", "/", "é", "z", "1"]);
	return s;
}

function someProperties(r: Random, kind: string): Record<string, unknown> {
	const p: Record<string, unknown> = {};
	if (r.chance(0.3)) p.reasonString = text(r, 8);
	if (r.chance(0.2)) p.userProperties = { [text(r, 4)]: text(r, 4) };
	if (kind === "connack") {
		if (r.chance(0.5)) p.receiveMaximum = r.int(1, 5);
		if (r.chance(0.4)) p.topicAliasMaximum = r.int(0, 3);
		if (r.chance(0.3)) p.maximumPacketSize = r.int(20, 300);
		if (r.chance(0.2)) p.maximumQoS = r.int(0, 1);
		if (r.chance(0.2)) p.retainAvailable = r.chance(0.5);
		if (r.chance(0.2)) p.serverKeepAlive = r.int(0, 5);
		if (r.chance(0.2)) p.assignedClientIdentifier = text(r, 6);
		if (r.chance(0.2)) p.wildcardSubscriptionAvailable = r.chance(0.5);
	}
	if (kind === "publish") {
		if (r.chance(0.4)) p.topicAlias = r.int(1, 4);
		if (r.chance(0.3)) p.payloadFormatIndicator = r.chance(0.5);
		if (r.chance(0.2)) p.messageExpiryInterval = r.int(0, 1000);
		if (r.chance(0.2)) p.responseTopic = text(r, 6);
		if (r.chance(0.2)) p.correlationData = Buffer.from(r.bytes(r.int(0, 4)));
		if (r.chance(0.2)) p.subscriptionIdentifier = r.int(1, 300);
	}
	if (kind === "disconnect" && r.chance(0.3)) p.serverReference = `127.0.0.1:${r.int(1, 65535)}`;
	return p;
}

/** A broker packet; ids mostly ones the client may have used. */
function brokerPacket(r: Random, ids: number[], connecting: boolean): Packet {
	const id = ids.length > 0 && r.chance(0.9) ? r.pick(ids) : r.int(1, 20);
	// Mostly what a broker would send now, sometimes anything.
	const kind = connecting && r.chance(0.9) ? "connack"
		: r.chance(0.8) ? r.pick(["publish", "publish", "publish", "puback", "puback", "pubrec", "pubcomp", "pingresp"])
		: r.pick(["connack", "pubrel", "suback", "unsuback", "disconnect", "auth"]);
	const properties = someProperties(r, kind);
	switch (kind) {
		case "connack": return { cmd: "connack", sessionPresent: r.chance(0.2), reasonCode: r.chance(0.9) ? 0 : r.pick(CODES), properties } as Packet;
		case "publish": {
			const qos = r.int(0, 2) as QoS;
			const empty = properties.topicAlias !== undefined && r.chance(0.5);
			const payload = r.chance(0.2) ? Buffer.from(r.bytes(r.int(0, 6))) : Buffer.from(text(r, 10));
			return { cmd: "publish", topic: empty ? "" : text(r, 12), payload, qos, retain: r.chance(0.2), dup: qos > 0 && r.chance(0.2), messageId: qos > 0 ? id : undefined, properties } as Packet;
		}
		case "suback": return { cmd: "suback", messageId: id, granted: [r.pick([0, 1, 2, 0x80, 0x87, 0xA2])], properties } as Packet;
		case "unsuback": return { cmd: "unsuback", messageId: id, granted: [r.pick([0, 0x11, 0x80])], properties } as Packet;
		case "pingresp": return { cmd: "pingresp" } as Packet;
		case "disconnect": return { cmd: "disconnect", reasonCode: r.pick([0, 0x8B, 0x97, 0x9C]), properties } as Packet;
		case "auth": return { cmd: "auth", reasonCode: r.pick([0, 0x18, 0x19]), properties: { ...properties, authenticationMethod: r.pick(["M", "N"]) } } as Packet;
		default: return { cmd: kind, messageId: id, reasonCode: r.chance(0.8) ? 0 : r.pick(CODES), properties } as Packet;
	}
}

function mutate(r: Random, bytes: Uint8Array): Uint8Array {
	const out = Uint8Array.from(bytes);
	for (let n = r.int(1, 3); n > 0; n--) out[r.int(0, out.length - 1)] = r.chance(0.5) ? r.u32() & 0xFF : out[r.int(0, out.length - 1)]!;
	return out;
}

interface Tally { streams: number; packets: number; refused: number; failed: number; delivered: number; messages: number; disconnects: number; codes: Record<string, number> }

function run(seed: number, tally: Tally): void {
	const r = new Random(seed);
	const h = new Harness({
		protocolVersion: 5, clientId: "fuzz", cleanSession: r.chance(0.5), inboundTopicAliases: r.int(0, 3), topicAliases: r.int(0, 4),
		maxInflight: r.int(1, 4), maxInboundQos2: r.int(1, 4), authenticationMethod: r.chance(0.3) ? "M" : undefined, keepAlive: r.int(0, 3),
	});
	h.authAnswer = r.chance(0.5) ? Uint8Array.of(1, 2) : undefined;
	const published = new Set<number>();
	const delivered = new Set<number>();
	h.session.opening(h.now);
	h.session.opened(h.now);
	h.sent();
	h.reader.reset();
	for (let step = 0; step < 60; step++) {
		// The app, at random: publish (with properties), subscribe, reconnect after a failure.
		if (h.session.state === DISCONNECTED) {
			h.drop();
			h.session.opening(h.now);
			h.session.opened(h.now);
			h.reader.reset();
			h.sent();
		}
		if (r.chance(0.3)) {
			try {
				const id = h.session.publish(text(r, 8), text(r, 20), r.int(0, 2) as QoS, r.chance(0.2), r.chance(0.5) ? { contentType: "t", messageExpiryInterval: 5 } : undefined);
				if (id > 0) published.add(id);
			}
			catch (error) {
				assert.ok(error instanceof MqttError, `publish threw ${String(error)}`);
			}
		}
		if (r.chance(0.1)) {
			try {
				h.session.subscribe(r.chance(0.5) ? "a/+" : text(r, 6), 1, "h", r.chance(0.3) ? { subscriptionIdentifier: 2 } : undefined);
			}
			catch (error) {
				assert.ok(error instanceof MqttError, `subscribe threw ${String(error)}`);
			}
		}
		h.sent();
		let bytes: Uint8Array = generate(brokerPacket(r, [...published], h.session.state !== CONNECTED), { protocolVersion: 5 });
		if (r.chance(0.1)) bytes = mutate(r, bytes);
		tally.packets++;
		const wasConnected = h.session.state === CONNECTED;
		try {
			h.receiveHex(Buffer.from(bytes).toString("hex"));
		}
		catch (error) {
			assert.ok(error instanceof MqttError, `the reader threw ${String(error)}`);
			tally.refused++;
			h.session.fail(error);
			h.reader.reset();
		}
		for (const event of h.take()) {
			if (event.startsWith("failed")) {
				tally.failed++;
				const code = event.split(" ")[1]!;
				tally.codes[code] = (tally.codes[code] ?? 0) + 1;
			}
			if (event.startsWith("message")) tally.messages++;
			if (event.startsWith("delivered ")) {
				const id = Number(event.split(" ")[1]);
				assert.ok(published.has(id), `delivered ${id}, never published (seed ${seed})`);
				assert.ok(!delivered.has(id), `delivered ${id} twice (seed ${seed})`);
				delivered.add(id);
				published.delete(id);
				tally.delivered++;
			}
		}
		const out = h.sent();
		if (out.startsWith("E0") && wasConnected) {
			tally.disconnects++;
			const code = parseInt(out.split(" ")[2] ?? "0", 16);
			assert.ok(reasonAllowed(14, code), `DISCONNECT with reason 0x${code.toString(16)} (seed ${seed})`);
		}
		h.tick(r.int(0, 2000));
	}
	assert.ok(h.session.pending >= 0);
	tally.streams++;
}

describe("fuzz: the MQTT 5.0 session under a hostile broker", function () {
	it(`${STREAMS} streams of random and mutated 5.0 broker packets with random API calls, seed ${SEED} (FUZZ_SEED=${SEED} replays it)`, function () {
		this.timeout(120_000);
		const tally: Tally = { streams: 0, packets: 0, refused: 0, failed: 0, delivered: 0, messages: 0, disconnects: 0, codes: {} };
		for (let i = 0; i < STREAMS; i++) run((SEED + i * 0x9E3779B1) >>> 0, tally);
		console.log(`      ${JSON.stringify(tally)}`);
		assert.equal(tally.streams, STREAMS);
		// The fuzzer must reach every outcome, else it went blind.
		assert.ok(tally.refused > 0 && tally.failed > 0 && tally.delivered > 0 && tally.messages > 0 && tally.disconnects > 0, JSON.stringify(tally));
	});
});
