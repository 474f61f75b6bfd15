// mqtt-packet (the second codec the tests check ours against) parsing MQTT 5.0 bytes: one packet
// (`parse5`), or the stream a client sends (`ClientPackets`, for the scripted broker).

import * as assert from "node:assert/strict";
import { parser } from "mqtt-packet";
import { AUTH } from "../../modules/mqtt/constants.js";
import {
	CONNECT, DISCONNECT, PINGREQ, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBSCRIBE, UNSUBSCRIBE,
} from "../../modules/mqtt/packet.js";
import type { ConnectPacket, Packet, QoS } from "../../modules/mqtt/packet.js";

export type Fields = Record<string, unknown>;

/**
 * mqtt-packet's parser with protocolVersion 5 on `bytes`: exactly one packet, no error. Its
 * properties (and user properties, which it keeps without a prototype) come back as plain objects.
 */
export function parse5(bytes: Uint8Array): Fields {
	const p = parser({ protocolVersion: 5 });
	const packets: Fields[] = [];
	const errors: Error[] = [];
	p.on("packet", (packet) => packets.push(packet as unknown as Fields));
	p.on("error", (e: Error) => errors.push(e));
	p.parse(Buffer.from(bytes));
	assert.deepEqual(errors.map((e) => e.message), [], "mqtt-packet parsed without error");
	assert.equal(packets.length, 1, "one packet");
	const packet = { ...packets[0]! };
	if (packet.properties) {
		const props = { ...(packet.properties as Fields) };
		if (props.userProperties) props.userProperties = { ...(props.userProperties as Fields) };
		packet.properties = props;
	}
	return packet;
}

/** A packet a client sent, as mqtt-packet parsed it: our plain-object form, with what MQTT 5.0 adds. */
export interface Parsed {
	packet: Packet;
	/** MQTT 5.0: the reason code (acknowledgements, DISCONNECT, AUTH), where the packet has one. */
	reasonCode?: number;
	/** MQTT 5.0: the properties as mqtt-packet gives them (user properties as an object). */
	properties?: Fields;
}

/**
 * mqtt-packet's parser over a stream of client packets: MQTT 5.0 unless the CONNECT names another
 * level (it follows the CONNECT). A second decoder besides ours, so that what our client writes is
 * checked by code that shares nothing with it.
 */
export class ClientPackets {
	private readonly parser = parser({ protocolVersion: 5 });
	private readonly out: Parsed[] = [];
	/** The first error the parser reported: the stream cannot be read past it. */
	error: Error | undefined;

	constructor() {
		this.parser.on("packet", (p) => this.out.push(parsed(p as unknown as Fields)));
		this.parser.on("error", (e: Error) => {
			this.error ??= e;
		});
	}

	/** The packets `chunk` completes, in order. */
	feed(chunk: Uint8Array): Parsed[] {
		if (this.error === undefined) this.parser.parse(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
		return this.out.splice(0);
	}
}

const TYPES: Record<string, number> = {
	connect: CONNECT, publish: PUBLISH, puback: PUBACK, pubrec: PUBREC, pubrel: PUBREL, pubcomp: PUBCOMP,
	subscribe: SUBSCRIBE, unsubscribe: UNSUBSCRIBE, pingreq: PINGREQ, disconnect: DISCONNECT, auth: AUTH,
};

/** mqtt-packet's object for a packet a client sends, as ours (packet.ts) with the 5.0 parts beside it. */
function parsed(p: Fields): Parsed {
	const type = TYPES[p.cmd as string];
	if (type === undefined) throw new Error(`a client does not send ${String(p.cmd)}`);
	const id = p.messageId as number;
	let packet: Packet;
	switch (type) {
		case CONNECT: {
			const connect: ConnectPacket = {
				type: CONNECT, protocolLevel: p.protocolVersion as number, clientId: p.clientId as string,
				cleanSession: p.clean as boolean, keepAlive: p.keepalive as number,
			};
			const will = p.will as Fields | undefined;
			if (will) connect.will = { topic: will.topic as string, payload: new Uint8Array(will.payload as Buffer), qos: will.qos as QoS, retain: will.retain as boolean };
			if (p.username !== undefined) connect.username = p.username as string;
			if (p.password !== undefined) connect.password = new Uint8Array(p.password as Buffer);
			packet = connect;
			break;
		}
		case PUBLISH: {
			const qos = p.qos as QoS;
			packet = { type: PUBLISH, topic: p.topic as string, payload: new Uint8Array(p.payload as Buffer), qos, retain: p.retain as boolean, dup: p.dup as boolean };
			if (qos > 0) packet.packetId = id;
			break;
		}
		case SUBSCRIBE:
			packet = {
				type: SUBSCRIBE, packetId: id, subscriptions: (p.subscriptions as Fields[]).map((s) => ({
					filter: s.topic as string, qos: s.qos as QoS, noLocal: s.nl as boolean | undefined,
					retainAsPublished: s.rap as boolean | undefined, retainHandling: s.rh as 0 | 1 | 2 | undefined,
				})),
			};
			break;
		case UNSUBSCRIBE:
			packet = { type: UNSUBSCRIBE, packetId: id, filters: p.unsubscriptions as string[] };
			break;
		case PUBACK:
		case PUBREC:
		case PUBREL:
		case PUBCOMP:
			packet = { type, packetId: id } as Packet;
			break;
		default:
			// PINGREQ, DISCONNECT, and AUTH (which packet.ts, of 3.1.1, does not name).
			packet = { type } as Packet;
	}
	const out: Parsed = { packet };
	if (typeof p.reasonCode === "number") out.reasonCode = p.reasonCode;
	if (p.properties) out.properties = { ...(p.properties as Fields) };
	return out;
}
