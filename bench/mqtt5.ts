// MQTT 5.0 against 3.1.1: the bytes the firmware's telemetry message takes on the wire, with and
// without a topic alias and its properties, and what the client costs per message in the XS engine.

import type { XsWorker } from "../hosts/xs/worker.js";
import { Client } from "../modules/mqtt/client.js";
import type { PropertyValues } from "../modules/mqtt/properties.js";
import { Property } from "../modules/mqtt/properties.js";
import { ManualClock } from "../test/lib/manual-clock.js";
import { measure } from "../test/lib/xs-meter.js";
import { CountingTransport } from "../test/lib/xs/loopback.js";

/**
 * The firmware's telemetry (Device.telemetry in modules/device/device.ts): QoS 0 to
 * `<topicPrefix>/<deviceId>/telemetry`, the JSON of a reading with its fields in Device.reading's
 * order, published as a string. The id is the one the Moddable host makes from a MAC address
 * ("xs-" and six hex digits); the reading is an SHT3x's, a few hours after boot at the default
 * 10 s interval.
 */
export const TELEMETRY_TOPIC = "devices/xs-a1b2c3/telemetry";
export const TELEMETRY_PAYLOAD = JSON.stringify({ seq: 1234, uptime: 12_340_000, sensor: "SHT3x", temperature: 21.37, humidity: 45.2 });
/** What a 5.0 device says about it: JSON, UTF-8, stale after two readings (seconds, at the default 10 s interval). */
export const TELEMETRY_PROPERTIES: PropertyValues = { contentType: "application/json", payloadFormatIndicator: 1, messageExpiryInterval: 20 };

const CONNACK4 = Uint8Array.of(0x20, 2, 0, 0);
/** CONNACK 5.0: success, Topic Alias Maximum 16. */
const CONNACK5 = Uint8Array.of(0x20, 6, 0, 0, 3, Property.TOPIC_ALIAS_MAXIMUM, 0, 16);

/** Bytes of the first telemetry message and of those after it, from a connected client's transport. */
function telemetryBytes(version: 4 | 5, topicAliases: number, properties: PropertyValues | undefined): { first: number; after: number } {
	const transport = new CountingTransport();
	const client = new Client({
		host: "counting", clientId: "xs-a1b2c3", keepAlive: 0, transport, clock: new ManualClock(), reconnect: false,
		protocolVersion: version, topicAliases,
	});
	transport.handler!.onOpen();
	transport.receive(version === 5 ? CONNACK5 : CONNACK4);
	if (!client.connected) throw new Error(`telemetry bytes: the ${version === 5 ? "5.0" : "3.1.1"} client did not connect`);
	const sizes: number[] = [];
	for (let i = 0; i < 3; i++) {
		const before = transport.bytesWritten;
		if (client.publish(TELEMETRY_TOPIC, TELEMETRY_PAYLOAD, 0, false, properties) !== 0) throw new Error("telemetry bytes: publish refused");
		sizes.push(transport.bytesWritten - before);
	}
	client.close(false);
	if (sizes[1] !== sizes[2]) throw new Error(`telemetry bytes: the second and third messages took ${sizes[1]} and ${sizes[2]} bytes`);
	return { first: sizes[0]!, after: sizes[1]! };
}

function ratio(a: number, b: number): string {
	return `${(a / b).toFixed(2)}×`;
}

/** The 3.1.1 figures of the same operations, measured over the counting transport in the same worker. */
export interface Mqtt5Baseline {
	qos0: number;
	qos1: number;
}

/**
 * The MQTT 5.0 subsection: wire bytes (on Node: they do not depend on the engine), then the
 * workloads of test/lib/xs/workloads.ts over the counting transport in `worker`.
 */
export async function mqtt5Lines(worker: XsWorker, count: number, v4: Mqtt5Baseline): Promise<{ lines: string[]; failures: string[] }> {
	const failures: string[] = [];
	const v311 = telemetryBytes(4, 0, undefined);
	const rows: Array<[string, { first: number; after: number }]> = [
		["3.1.1", v311],
		["5.0, no topic alias (`topicAliases: 0`)", telemetryBytes(5, 0, undefined)],
		["5.0, topic alias", telemetryBytes(5, 16, undefined)],
		["5.0, content type, payload format and message expiry, no topic alias", telemetryBytes(5, 0, TELEMETRY_PROPERTIES)],
		["5.0, topic alias, content type, payload format and message expiry", telemetryBytes(5, 16, TELEMETRY_PROPERTIES)],
	];
	const topicBytes = new TextEncoder().encode(TELEMETRY_TOPIC).length;
	const payloadBytes = new TextEncoder().encode(TELEMETRY_PAYLOAD).length;
	const lines = [
		"",
		"### MQTT 5.0: the firmware's telemetry on the wire, and the client's cost",
		"",
		`The firmware's telemetry message (\`Device.telemetry\`, modules/device/device.ts): QoS 0 to \`${TELEMETRY_TOPIC}\``,
		`(${topicBytes} bytes; the device id as the Moddable host makes it from a MAC address) with the JSON of a reading as a string,`,
		`\`${TELEMETRY_PAYLOAD}\` (${payloadBytes} bytes). Bytes of each PUBLISH as the transport of a connected client takes them`,
		"(the client's code run on Node: bytes do not depend on the engine; the broker allows 16 topic aliases). A topic alias is",
		"set by the first message, which carries the topic and the alias (3 bytes more); the messages after it carry an empty",
		`topic and the alias. The properties are \`${JSON.stringify(TELEMETRY_PROPERTIES)}\`, one object reused.`,
		"",
		"| Sent as | First message | Each message after | ÷ 3.1.1 |",
		"| --- | ---: | ---: | ---: |",
		...rows.map(([label, b]) => `| ${label} | ${b.first} | **${b.after}** | ${ratio(b.after, v311.after)} |`),
	];

	lines.push(
		"",
		`XS compute per message over the counting transport (as in the table above); the bench message (topic 24 bytes, payload`,
		`64 bytes as a Uint8Array), ${count.toLocaleString("en")} operations each. 5.0 QoS 0 goes as the topic's alias (set beforehand); with`,
		"payload format 1 the client checks that the payload is UTF-8 on every publish. The QoS 1 message is never aliased",
		"(it may be sent again on another connection); its PUBACK is the 4-byte success form, or 5 bytes with reason code 0x10",
		"(No matching subscribers), which onDelivered gets.",
		"",
		"| Operation | 3.1.1 | 5.0 | 5.0 ÷ 3.1.1 | Slots allocated (5.0) | Heap growth (5.0) |",
		"| --- | ---: | ---: | ---: | ---: | ---: |",
	);
	for (const [name, label, baseline] of [
		["counting5PublishQos0Alias", "publish QoS 0, the same topic each time (5.0: as its alias)", v4.qos0],
		["counting5PublishQos0AliasProperties", "the same with content type, payload format and message expiry", v4.qos0],
		["counting5PublishQos1", "publish QoS 1 → PUBACK → delivered", v4.qos1],
		["counting5PublishQos1Properties", "the same with those properties; PUBACK 0x10", v4.qos1],
	] as const) {
		const f = await measure(worker, name, count);
		lines.push(`| ${label} | ${Math.round(baseline).toLocaleString("en")} | ${Math.round(f.computePerOp).toLocaleString("en")} | ${ratio(f.computePerOp, baseline)} | ${f.allocatedSlots} | ${f.heapGrowth} |`);
		if (f.allocatedSlots !== 0 || f.heapGrowth !== 0) failures.push(`5.0 ${label}: ${f.allocatedSlots} slots allocated, growth ${f.heapGrowth}`);
	}
	return { lines, failures };
}
