// mqtt-packet (the second codec the tests check ours against) parsing MQTT 5.0 bytes.

import * as assert from "node:assert/strict";
import { parser } from "mqtt-packet";

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
