// The Moddable SDK's own MQTT client (its mqtt.js, loaded unmodified, imports served by sdk-stubs/)
// as workloads beside ours in workloads.ts, with the same loops, message and measuring method.

import { footprint } from "../../test/lib/xs/footprint.js";
import { sockets, Socket } from "./sdk-stubs/socket.js";
import { fireTimers } from "./sdk-stubs/timer.js";
import { PAYLOAD, TOPIC, workloads } from "../../test/lib/xs/workloads.js";

interface SdkPublishFlags {
	quality?: number;
	retain?: boolean;
	duplicate?: boolean;
}

/** What mqtt.js's Client offers that the benchmark uses. */
interface SdkClient {
	/** 0 opening, 1 CONNECT sent, 2 connected, -1 closed. */
	state: number;
	/** The last packet identifier used. */
	packet: number;
	onReady?: () => void;
	onClose?: () => void;
	publish(topic: string | ArrayBuffer, data: string | ArrayBuffer, flags?: SdkPublishFlags): void;
	close(immediate?: boolean): void;
}

type SdkClientConstructor = new (dictionary: { host: string; port?: number; id?: string; timeout?: number }) => SdkClient;

const SdkMqttClient = (globalThis as unknown as { SdkMqttClient?: SdkClientConstructor }).SdkMqttClient;
if (typeof SdkMqttClient !== "function") throw new Error("the SDK's mqtt.js is not loaded (globalThis.SdkMqttClient)");

const fromString = (ArrayBuffer as unknown as { fromString: (text: string) => ArrayBuffer }).fromString;

/** The benchmark message in the forms mqtt.js takes. ArrayBuffer payloads it uses as they are. */
const payloadBuffer = PAYLOAD.buffer as ArrayBuffer;
let payloadText = "";
for (let i = 0; i < PAYLOAD.length; i++) payloadText += String.fromCharCode(PAYLOAD[i]!);
/** The topic as UTF-8 bytes: mqtt.js skips ArrayBuffer.fromString for it. */
const topicBuffer = fromString(TOPIC);
/** Bytes on the wire per benchmark PUBLISH: fixed header (2), topic (2 + 24), [id (2)], payload (64). */
const QOS0_BYTES = 2 + 2 + 24 + 64;
const QOS1_BYTES = QOS0_BYTES + 2;

const CONNACK = new Uint8Array([0x20, 2, 0, 0]).buffer;
const puback = new Uint8Array([0x40, 2, 0, 0]);
const pubackBuffer = puback.buffer;
const qos1: SdkPublishFlags = { quality: 1 };

let readyCalls = 0;
function onReady(): void {
	readyCalls++;
}

/** A client opened over the socket stub and connected by CONNACK, onReady run. */
function connect(): { client: SdkClient; socket: Socket } {
	const client = new SdkMqttClient!({ host: "loopback", port: 1883, id: "bench" });
	client.onReady = onReady;
	const socket = sockets.last!;
	const ready = readyCalls;
	socket.open();
	socket.receive(CONNACK);
	fireTimers();
	if (client.state !== 2 || readyCalls !== ready + 1) throw new Error(`the SDK client did not connect (state ${client.state})`);
	return { client, socket };
}

const { client: sdk, socket } = connect();

function expectWritten(before: number, bytes: number): void {
	if (sdk.state !== 2) throw new Error(`the SDK client closed (state ${sdk.state})`);
	if (socket.bytesWritten - before !== bytes) throw new Error(`the SDK client wrote ${socket.bytesWritten - before} bytes, not ${bytes}`);
}

/** Publish QoS 0: string topic, ArrayBuffer payload (the form mqtt.js handles best). */
workloads["sdkPublishQos0"] = (n: number): void => {
	const before = socket.bytesWritten;
	for (let i = 0; i < n; i++) sdk.publish(TOPIC, payloadBuffer);
	expectWritten(before, QOS0_BYTES * n);
};
/** Publish QoS 0 with the topic already UTF-8 in an ArrayBuffer. */
workloads["sdkPublishQos0TopicBuffer"] = (n: number): void => {
	const before = socket.bytesWritten;
	for (let i = 0; i < n; i++) sdk.publish(topicBuffer, payloadBuffer);
	expectWritten(before, QOS0_BYTES * n);
};
/** Publish QoS 0 with the payload as a string (ArrayBuffer.fromString each time). */
workloads["sdkPublishQos0TextPayload"] = (n: number): void => {
	const before = socket.bytesWritten;
	for (let i = 0; i < n; i++) sdk.publish(TOPIC, payloadText);
	expectWritten(before, QOS0_BYTES * n);
};
/** Publish QoS 1, then the broker's PUBACK for its identifier is read and parsed. */
workloads["sdkPublishQos1"] = (n: number): void => {
	const before = socket.bytesWritten;
	for (let i = 0; i < n; i++) {
		sdk.publish(TOPIC, payloadBuffer, qos1);
		const id = sdk.packet & 0xFFFF;
		puback[2] = id >> 8;
		puback[3] = id & 0xFF;
		socket.receive(pubackBuffer);
	}
	expectWritten(before, QOS1_BYTES * n);
};

// Ours over a transport that counts bytes (countingPublishQos0, countingPublishQos1) is in workloads.ts.

// Footprint: one SDK client (or one bare stub socket) per call, kept in a fixed slot.
const kept: Array<SdkClient | Socket | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
footprint["sdk"] = (slot: number): void => {
	if (!(slot >= 0 && slot < kept.length)) throw new Error(`slot ${slot} is outside 0..${kept.length - 1}`);
	kept[slot] = connect().client;
};
footprint["sdkSocket"] = (slot: number): void => {
	if (!(slot >= 0 && slot < kept.length)) throw new Error(`slot ${slot} is outside 0..${kept.length - 1}`);
	kept[slot] = new Socket({ host: "loopback", port: 1883 });
};

(globalThis as unknown as { sdkWorkloadsReady: boolean }).sdkWorkloadsReady = true;
