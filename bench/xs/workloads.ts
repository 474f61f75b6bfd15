// Workloads measured inside the XS engine: each runs an operation n times on fixed buffers.
// Registered on globalThis so the Node side (bench/xs-meter.ts) can drive them crank by crank.

import { PacketView, parsePacket } from "../../modules/mqtt/decode.js";
import { encodePublish } from "../../modules/mqtt/encode.js";
import { PacketReader } from "../../modules/mqtt/reader.js";

/** The benchmark message: a 24-byte topic and a 64-byte payload. */
export const TOPIC = "devices/abcdef/telemetry";
export const PAYLOAD = new Uint8Array(64);
for (let i = 0; i < PAYLOAD.length; i++) PAYLOAD[i] = 0x30 + (i % 10);

const tx = new Uint8Array(256);
const frame = new Uint8Array(256);
const frameLength = encodePublish(frame, 0, TOPIC, PAYLOAD, 0, false, false, 0);
const view = new PacketView();
const reader = new PacketReader(1024);
let sink = 0;

export const workloads: Record<string, (n: number) => void> = {
	/** Loop overhead alone, subtracted from the others. */
	empty(n: number): void {
		for (let i = 0; i < n; i++) sink ^= i;
	},
	/** Encode a QoS 0 PUBLISH into a fixed buffer. */
	encodeQos0(n: number): void {
		for (let i = 0; i < n; i++) sink ^= encodePublish(tx, 0, TOPIC, PAYLOAD, 0, false, false, 0);
	},
	/** Decode (validate and take apart) a PUBLISH held in a buffer. */
	decodePublish(n: number): void {
		for (let i = 0; i < n; i++) {
			sink ^= parsePacket(view, frame, 0, frameLength);
			sink ^= view.payloadEnd - view.topicStart;
		}
	},
	/** Frame a PUBLISH from a byte stream: copy into the receive buffer, find it, decode it. */
	readPublish(n: number): void {
		for (let i = 0; i < n; i++) {
			reader.feed(frame, 0, frameLength);
			if (!reader.next()) throw new Error("no packet");
			sink ^= reader.view.payloadEnd;
		}
	},
};

(globalThis as unknown as { workloads: typeof workloads; workloadsReady: boolean }).workloads = workloads;
(globalThis as unknown as { workloadsReady: boolean }).workloadsReady = true;
