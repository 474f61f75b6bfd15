// Workloads measured inside the XS engine: each runs an operation n times on fixed buffers.
// Registered on globalThis so the Node side (test/lib/xs-meter.ts) can drive them crank by crank.

import { Client } from "../../../modules/mqtt/client.js";
import type { Message } from "../../../modules/mqtt/client.js";
import { PacketView, parsePacket } from "../../../modules/mqtt/decode.js";
import { encodePublish } from "../../../modules/mqtt/encode.js";
import { encodePublish5 } from "../../../modules/mqtt/encode5.js";
import type { Store } from "../../../modules/mqtt/host.js";
import { PUBLISH } from "../../../modules/mqtt/constants.js";
import { Properties, propertiesLength, Property, readProperties, writeProperties } from "../../../modules/mqtt/properties.js";
import type { PropertyValues } from "../../../modules/mqtt/properties.js";
import { PacketReader } from "../../../modules/mqtt/reader.js";
import { CountingTransport, LoopbackBroker, LoopbackBroker5 } from "./loopback.js";
import { ManualClock } from "../manual-clock.js";

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

// A connected client over the loopback broker, for the exchanges below.
const broker = new LoopbackBroker();
let delivered = 0;
let handled = 0;
function onMessage(message: Message): void {
	handled++;
	sink ^= message.buffer[message.payloadStart]! ^ message.qos;
}
export const client = new Client({
	host: "loopback", clientId: "bench", keepAlive: 0, transport: broker, clock: new ManualClock(),
	onDelivered(): void { delivered++; },
	onMessage,
});
broker.handler!.onOpen();
broker.deliver();
const inboundBuffer = new Uint8Array(256);
/** The inbound PUBLISH, as a view of exactly its length (the loopback broker then reads it with a native copy). */
const inboundFrame = inboundBuffer.subarray(0, encodePublish(inboundBuffer, 0, TOPIC, PAYLOAD, 1, false, false, 7));
const inboundLength = inboundFrame.length;

/** A store that copies each snapshot into its own fixed buffer, as a flash or preference store would. */
class FixedStore implements Store {
	readonly bytes = new Uint8Array(8192);
	length = 0;
	saves = 0;
	load(): Uint8Array | undefined {
		return undefined;
	}
	save(data: Uint8Array, length: number): void {
		const bytes = this.bytes;
		for (let i = 0; i < length; i++) bytes[i] = data[i]!;
		this.length = length;
		this.saves++;
	}
}

// A second client, with a store: every QoS 1/2 change is saved.
const store = new FixedStore();
const storedBroker = new LoopbackBroker();
let storedDelivered = 0;
let storedHandled = 0;
export const storedClient = new Client({
	host: "loopback", clientId: "bench-stored", keepAlive: 0, transport: storedBroker, clock: new ManualClock(), store,
	onDelivered(): void { storedDelivered++; },
	onMessage(message: Message): void {
		storedHandled++;
		sink ^= message.qos;
	},
});
storedBroker.handler!.onOpen();
storedBroker.deliver();
const inboundQos2Buffer = new Uint8Array(256);
const inboundQos2 = inboundQos2Buffer.subarray(0, encodePublish(inboundQos2Buffer, 0, TOPIC, PAYLOAD, 2, false, false, 9));
const inboundQos2Length = inboundQos2.length;
const ackFrame = new Uint8Array(4);
/** The broker sends PUBREC (0x50), PUBREL (0x62) or PUBCOMP (0x70) for `id` to the stored client. */
function storedAck(first: number, id: number): void {
	ackFrame[0] = first;
	ackFrame[1] = 2;
	ackFrame[2] = id >> 8;
	ackFrame[3] = id & 0xFF;
	storedBroker.inject(ackFrame, 4);
	storedBroker.deliver();
}
function checkSaves(before: number, expected: number): void {
	if (store.saves - before !== expected) throw new Error(`saved ${store.saves - before} times, not ${expected}`);
}

/** The broker sends `first` (PUBREC 0x50, PUBCOMP 0x70) for `id`, and the client reads it. */
function injectAck(broker: LoopbackBroker, first: number, id: number): void {
	ackFrame[0] = first;
	ackFrame[1] = 2;
	ackFrame[2] = id >> 8;
	ackFrame[3] = id & 0xFF;
	broker.inject(ackFrame, 4);
	broker.deliver();
}

/**
 * Clients with `inFlight` QoS 2 messages awaiting PUBREC (the loopback broker never answers QoS 2),
 * for the cost of one more QoS 2 exchange beside them: publish, PUBREC, PUBREL, PUBCOMP.
 */
class Crowded {
	readonly broker = new LoopbackBroker();
	readonly client: Client;
	delivered = 0;
	constructor(inFlight: number) {
		const self = this;
		this.client = new Client({
			host: "loopback", clientId: `crowded-${inFlight}`, keepAlive: 0, transport: this.broker, clock: new ManualClock(),
			maxMessages: inFlight + 2, maxInflight: inFlight + 2, queueBytes: (inFlight + 2) * 128,
			onDelivered(): void { self.delivered++; },
		});
		this.broker.handler!.onOpen();
		this.broker.deliver();
		for (let i = 0; i < inFlight; i++) if (this.client.publish(TOPIC, PAYLOAD, 2, false) <= 0) throw new Error("crowded: publish refused");
	}
	run(n: number): void {
		const before = this.delivered;
		for (let i = 0; i < n; i++) {
			const id = this.client.publish(TOPIC, PAYLOAD, 2, false);
			if (id <= 0) throw new Error("publish refused");
			this.ack(0x50, id);
			this.ack(0x70, id);
		}
		if (this.delivered - before !== n) throw new Error(`delivered ${this.delivered - before} of ${n}`);
	}
	private ack(first: number, id: number): void {
		injectAck(this.broker, first, id);
	}
}
/**
 * A pipeline of QoS 2 messages `window` deep: each step publishes one, answers PUBREC for the one
 * published window/2 steps before, and PUBCOMP for the one published `window` steps before. Half of
 * what is in flight awaits PUBCOMP at the old end of the pool, half awaits PUBREC at the new end:
 * what each step costs must not grow with the window.
 */
class Pipeline {
	readonly broker = new LoopbackBroker();
	readonly client: Client;
	private readonly ids: Uint16Array;
	private step = 0;
	delivered = 0;
	constructor(readonly window: number) {
		const self = this;
		this.client = new Client({
			host: "loopback", clientId: `pipeline-${window}`, keepAlive: 0, transport: this.broker, clock: new ManualClock(),
			maxMessages: window + 2, maxInflight: window + 2, queueBytes: (window + 2) * 128,
			onDelivered(): void { self.delivered++; },
		});
		this.ids = new Uint16Array(window);
		this.broker.handler!.onOpen();
		this.broker.deliver();
		// Fill the pipeline: `window` published, the older half past PUBREC.
		for (let i = 0; i < window; i++) this.ids[i] = this.client.publish(TOPIC, PAYLOAD, 2, false);
		for (let i = 0; i < window / 2; i++) this.ack(0x50, this.ids[i]!);
	}
	run(n: number): void {
		const before = this.delivered;
		const w = this.window;
		for (let i = 0; i < n; i++) {
			const slot = this.step % w;
			this.ack(0x70, this.ids[slot]!);
			const id = this.client.publish(TOPIC, PAYLOAD, 2, false);
			if (id <= 0) throw new Error("pipeline: publish refused");
			this.ids[slot] = id;
			this.ack(0x50, this.ids[(slot + w / 2) % w]!);
			this.step++;
		}
		if (this.delivered - before !== n) throw new Error(`pipeline: delivered ${this.delivered - before} of ${n}`);
	}
	private ack(first: number, id: number): void {
		injectAck(this.broker, first, id);
	}
}

/** A client whose QoS 1 messages the broker does not acknowledge until told: for the cost of reading one PUBACK. */
const silentBroker = new LoopbackBroker();
silentBroker.acking = false;
let silentDelivered = 0;
const silentClient = new Client({
	host: "loopback", clientId: "silent", keepAlive: 0, transport: silentBroker, clock: new ManualClock(),
	maxMessages: 10_001, maxInflight: 10_001, queueBytes: 10_001 * 100,
	onDelivered(): void { silentDelivered++; },
});
silentBroker.handler!.onOpen();
silentBroker.deliver();
const silentIds = new Uint16Array(10_000);
/** PUBACK frames, each a view of exactly its 4 bytes, made once. */
const pubackFrames: Uint8Array[] = [];
for (let i = 0; i < 10_000; i++) pubackFrames.push(new Uint8Array(4));

/** 64 topics of 24 bytes, none the one before: every publish misses the topic cache. */
const TOPICS: string[] = [];
for (let i = 0; i < 64; i++) TOPICS.push(`devices/abcdef/sensor-${String(i).padStart(2, "0")}`);

/**
 * Clients over a transport that only counts bytes (as the SDK client's stub socket does): what the
 * client itself costs, with nothing on the other side parsing what it writes.
 */
const counting = new CountingTransport();
let countingDelivered = 0;
let countingHandled = 0;
const countingClient = new Client({
	host: "counting", clientId: "bench-counting", keepAlive: 0, transport: counting, clock: new ManualClock(),
	onDelivered(): void { countingDelivered++; },
	onMessage(message: Message): void {
		countingHandled++;
		sink ^= message.buffer[message.payloadStart]! ^ message.qos;
	},
});
counting.handler!.onOpen();
counting.receive(Uint8Array.of(0x20, 2, 0, 0));
if (!countingClient.connected) throw new Error("the counting client did not connect");
const countingPuback = new Uint8Array([0x40, 2, 0, 0]);
/** The same with room for 10,000 unacknowledged messages, for the cost of reading one PUBACK. */
const countingSilent = new CountingTransport();
let countingSilentDelivered = 0;
const countingSilentClient = new Client({
	host: "counting", clientId: "bench-counting-silent", keepAlive: 0, transport: countingSilent, clock: new ManualClock(),
	maxMessages: 10_001, maxInflight: 10_001, queueBytes: 10_001 * 100,
	onDelivered(): void { countingSilentDelivered++; },
});
countingSilent.handler!.onOpen();
countingSilent.receive(Uint8Array.of(0x20, 2, 0, 0));
const countingPubacks: Uint8Array[] = [];
for (let i = 0; i < 10_000; i++) countingPubacks.push(new Uint8Array(4));

/** MQTT 5.0 PUBLISH properties, as a command with a response topic would carry them. */
const publishProperties: PropertyValues = {
	payloadFormatIndicator: 1, messageExpiryInterval: 120, contentType: "application/json", responseTopic: "devices/abcdef/responses",
	correlationData: Uint8Array.of(1, 2, 3, 4), topicAlias: 3, userProperties: [["unit", "C"], ["site", "b1"]],
};
const propertiesBuffer = new Uint8Array(256);
const propertiesBytes = writeProperties(publishProperties, propertiesLength(publishProperties, PUBLISH), propertiesBuffer, 0);
// Two subscription identifiers, as a broker adds them, appended by hand (and the length with them).
propertiesBuffer[propertiesBytes] = Property.SUBSCRIPTION_IDENTIFIER;
propertiesBuffer[propertiesBytes + 1] = 5;
propertiesBuffer[propertiesBytes + 2] = Property.SUBSCRIPTION_IDENTIFIER;
propertiesBuffer[propertiesBytes + 3] = 9;
propertiesBuffer[0] += 4;
const propertiesEnd = propertiesBytes + 4;
const properties = new Properties();

// ---- MQTT 5.0 ----

/** The properties a device's telemetry carries (as bench/mqtt5.ts), one object reused for every publish. */
const TELEMETRY_PROPERTIES: PropertyValues = { contentType: "application/json", payloadFormatIndicator: 1, messageExpiryInterval: 20 };
/** The broker's reason code on PUBACKs to the 5.0 client: 0x10 No matching subscribers (taken). */
const PUBACK_REASON = 0x10;

/** An MQTT 5.0 client over the loopback broker (Topic Alias Maximum 16, PUBACKs with PUBACK_REASON), with 4 inbound topic aliases. */
const broker5 = new LoopbackBroker5(16, PUBACK_REASON);
let delivered5 = 0;
let reasons5 = 0;
let handled5 = 0;
let aliasedIn5 = 0;
const client5 = new Client({
	host: "loopback", clientId: "bench5", keepAlive: 0, transport: broker5, clock: new ManualClock(), protocolVersion: 5, inboundTopicAliases: 4,
	onDelivered(_id: number, _qos: number, reasonCode: number): void {
		delivered5++;
		if (reasonCode === PUBACK_REASON) reasons5++;
	},
	onMessage(message: Message): void {
		handled5++;
		// Read in place: a number, where a string starts, how many user properties.
		const p = message.properties!;
		sink ^= p.number(Property.MESSAGE_EXPIRY_INTERVAL, 0) ^ p.valueStart(Property.RESPONSE_TOPIC) ^ p.userProperties ^ message.buffer[message.payloadStart]!;
		if (message.topicBuffer !== message.buffer) aliasedIn5++;
	},
});
broker5.handler!.onOpen();
broker5.deliver();
if (!client5.connected) throw new Error("the MQTT 5.0 client did not connect");

/** A frame of exactly its length, encoded once by `encode` into a scratch buffer. */
function frameOf(encode: (buffer: Uint8Array) => number): Uint8Array {
	const buffer = new Uint8Array(512);
	return buffer.slice(0, encode(buffer));
}
/** An inbound QoS 1 PUBLISH as a command arrives: user property, response topic, correlation data, message expiry. */
const inbound5 = frameOf((b) => encodePublish5(b, 0, TOPIC, PAYLOAD, 1, false, false, 11, {
	messageExpiryInterval: 30, responseTopic: "devices/abcdef/responses", correlationData: Uint8Array.of(1, 2, 3, 4), userProperties: [["origin", "console"]],
}));
/** The broker sets inbound topic alias 1 (QoS 0), then names the topic by it alone. */
const aliasSet5 = frameOf((b) => encodePublish5(b, 0, TOPIC, PAYLOAD, 0, false, false, 0, { topicAlias: 1 }));
const aliasUse5 = frameOf((b) => encodePublish5(b, 0, "", PAYLOAD, 0, false, false, 0, { topicAlias: 1 }));
broker5.inject(aliasSet5, aliasSet5.length);
broker5.deliver();
if (aliasedIn5 !== 0 || handled5 !== 1) throw new Error("the inbound alias was not set");
// The first telemetry message sets the outbound alias; those measured go as the alias alone.
client5.publish(TOPIC, PAYLOAD, 0, false, TELEMETRY_PROPERTIES);

/** Did the client write `perMessage` bytes for each of n messages since `before`? */
function checkBytes(transport: { bytesWritten: number }, before: number, n: number, perMessage: number): void {
	if (transport.bytesWritten - before !== n * perMessage) throw new Error(`wrote ${(transport.bytesWritten - before) / n} bytes a message, not ${perMessage}`);
}
/** Publishes the bench message at QoS 0 n times with `properties`, sent as the topic's alias. */
function publish5Qos0(c: Client, transport: { bytesWritten: number }, n: number, properties: PropertyValues | undefined, perMessage: number): void {
	const before = transport.bytesWritten;
	const aliased = c.stats.aliased;
	for (let i = 0; i < n; i++) if (c.publish(TOPIC, PAYLOAD, 0, false, properties) < 0) throw new Error("publish refused");
	checkBytes(transport, before, n, perMessage);
	if (c.stats.aliased - aliased !== n) throw new Error("not sent as the alias");
}
/** Bytes of the bench message as a 5.0 QoS 0 PUBLISH named by its alias: header 2, empty topic 2, property length 1, alias 3, payload 64. */
const ALIASED5 = 2 + 2 + 1 + 3 + 64;
/** The telemetry properties: content type 1 + 2 + 16, payload format 2, message expiry 5. */
const TELEMETRY_PROPERTY_BYTES = 19 + 2 + 5;
/** A 5.0 QoS 1 PUBLISH of the bench message with the telemetry properties. */
const QOS1_5 = 2 + 2 + 24 + 2 + 1 + TELEMETRY_PROPERTY_BYTES + 64;

/** The same over a transport that only counts bytes (as the 3.1.1 counting client above), for the client's own cost. */
const counting5 = new CountingTransport();
let counting5Delivered = 0;
const counting5Client = new Client({
	host: "counting", clientId: "bench5-counting", keepAlive: 0, transport: counting5, clock: new ManualClock(), protocolVersion: 5,
	onDelivered(): void { counting5Delivered++; },
});
counting5.handler!.onOpen();
counting5.receive(Uint8Array.of(0x20, 6, 0, 0, 3, Property.TOPIC_ALIAS_MAXIMUM, 0, 16));
if (!counting5Client.connected) throw new Error("the MQTT 5.0 counting client did not connect");
counting5Client.publish(TOPIC, PAYLOAD, 0, false);
/** PUBACK for the 5.0 counting client: success (4 bytes), or with PUBACK_REASON (5 bytes). */
const counting5Puback = new Uint8Array([0x40, 2, 0, 0]);
const counting5PubackReason = new Uint8Array([0x40, 3, 0, 0, PUBACK_REASON]);
/** n QoS 1 publishes of the bench message with `properties` to the 5.0 counting client, each answered by `puback`. */
function counting5RoundTrips(n: number, properties: PropertyValues | undefined, puback: Uint8Array): void {
	const before = counting5Delivered;
	for (let i = 0; i < n; i++) {
		const id = counting5Client.publish(TOPIC, PAYLOAD, 1, false, properties);
		puback[2] = id >> 8;
		puback[3] = id & 0xFF;
		counting5.receive(puback);
	}
	if (counting5Delivered - before !== n) throw new Error(`counting 5.0: delivered ${counting5Delivered - before} of ${n}`);
}

const crowded10 = new Crowded(10);
const pipeline10 = new Pipeline(10);
const pipeline1000 = new Pipeline(1000);
const crowded1000 = new Crowded(1000);

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
	/** Publish QoS 0 through the client to the transport. */
	clientPublishQos0(n: number): void {
		for (let i = 0; i < n; i++) client.publish(TOPIC, PAYLOAD, 0, false);
	},
	/** Publish QoS 1 through the client; the broker's PUBACK comes back and completes it. */
	clientPublishQos1(n: number): void {
		const before = delivered;
		for (let i = 0; i < n; i++) {
			if (client.publish(TOPIC, PAYLOAD, 1, false) <= 0) throw new Error("publish refused");
			broker.deliver();
		}
		if (delivered - before !== n) throw new Error(`delivered ${delivered - before} of ${n}`);
	},
	/** An inbound QoS 1 PUBLISH: read, decoded, dispatched to the handler, answered with PUBACK. */
	clientReceiveQos1(n: number): void {
		const before = handled;
		const written = broker.bytesWritten;
		for (let i = 0; i < n; i++) {
			broker.inject(inboundFrame, inboundLength);
			broker.deliver();
		}
		if (handled - before !== n) throw new Error(`handled ${handled - before} of ${n}`);
		if (broker.bytesWritten - written !== 4 * n) throw new Error("PUBACKs missing");
	},
	/** Publish QoS 0 through the client, a different topic each time (24 bytes, 64 of them in turn). */
	clientPublishQos0Topics(n: number): void {
		for (let i = 0; i < n; i++) client.publish(TOPICS[i & 63]!, PAYLOAD, 0, false);
	},
	/** Not measured: publishes n QoS 1 messages the broker leaves unacknowledged, and makes their PUBACKs. */
	preparePubacks(n: number): void {
		for (let i = 0; i < n; i++) {
			const id = silentClient.publish(TOPIC, PAYLOAD, 1, false);
			if (id <= 0) throw new Error("prepare: publish refused");
			silentIds[i] = id;
			const f = pubackFrames[i]!;
			f[0] = 0x40;
			f[1] = 2;
			f[2] = id >> 8;
			f[3] = id & 0xFF;
		}
	},
	/** Reads the n PUBACKs preparePubacks made, one at a time, through the client: found, freed, reported. */
	readPubacks(n: number): void {
		const before = silentDelivered;
		for (let i = 0; i < n; i++) {
			silentBroker.inject(pubackFrames[i]!, 4);
			silentBroker.deliver();
		}
		if (silentDelivered - before !== n) throw new Error(`delivered ${silentDelivered - before} of ${n}`);
	},
	/** Publish QoS 0 to a transport that counts bytes, the same topic each time. */
	countingPublishQos0(n: number): void {
		const before = counting.bytesWritten;
		for (let i = 0; i < n; i++) countingClient.publish(TOPIC, PAYLOAD, 0, false);
		if (counting.bytesWritten - before !== n * (2 + 2 + 24 + 64)) throw new Error("counting: QoS 0 bytes missing");
	},
	/** The same, a different topic each time. */
	countingPublishQos0Topics(n: number): void {
		const before = counting.bytesWritten;
		for (let i = 0; i < n; i++) countingClient.publish(TOPICS[i & 63]!, PAYLOAD, 0, false);
		if (counting.bytesWritten - before !== n * (2 + 2 + 24 + 64)) throw new Error("counting: QoS 0 bytes missing");
	},
	/** Publish QoS 1 to a transport that counts bytes; its PUBACK comes back and completes it. */
	countingPublishQos1(n: number): void {
		const before = countingDelivered;
		for (let i = 0; i < n; i++) {
			const id = countingClient.publish(TOPIC, PAYLOAD, 1, false);
			countingPuback[2] = id >> 8;
			countingPuback[3] = id & 0xFF;
			counting.receive(countingPuback);
		}
		if (countingDelivered - before !== n) throw new Error(`counting: delivered ${countingDelivered - before} of ${n}`);
	},
	/** An inbound QoS 1 PUBLISH from a transport that counts what it is sent: read, handled, answered. */
	countingReceiveQos1(n: number): void {
		const before = countingHandled;
		const written = counting.bytesWritten;
		for (let i = 0; i < n; i++) counting.receive(inboundFrame);
		if (countingHandled - before !== n) throw new Error(`counting: handled ${countingHandled - before} of ${n}`);
		if (counting.bytesWritten - written !== 4 * n) throw new Error("counting: PUBACKs missing");
	},
	/** Not measured: n QoS 1 messages left unacknowledged, and their PUBACKs made. */
	countingPreparePubacks(n: number): void {
		for (let i = 0; i < n; i++) {
			const id = countingSilentClient.publish(TOPIC, PAYLOAD, 1, false);
			if (id <= 0) throw new Error("prepare: publish refused");
			const f = countingPubacks[i]!;
			f[0] = 0x40;
			f[1] = 2;
			f[2] = id >> 8;
			f[3] = id & 0xFF;
		}
	},
	/** Reads the PUBACKs countingPreparePubacks made, one at a time: found, freed, reported. */
	countingReadPubacks(n: number): void {
		const before = countingSilentDelivered;
		for (let i = 0; i < n; i++) countingSilent.receive(countingPubacks[i]!);
		if (countingSilentDelivered - before !== n) throw new Error(`counting: delivered ${countingSilentDelivered - before} of ${n}`);
	},
	/** Reads a PUBLISH's property block in place and looks at what it holds. */
	readProperties(n: number): void {
		for (let i = 0; i < n; i++) {
			if (readProperties(propertiesBuffer, 0, propertiesEnd, PUBLISH, properties) !== propertiesEnd) throw new Error("properties: not read to the end");
			sink ^= properties.number(Property.MESSAGE_EXPIRY_INTERVAL, 0) ^ properties.valueEnd(Property.RESPONSE_TOPIC) ^ properties.userProperties ^ properties.subscriptionIdentifiers;
		}
	},
	/** Measures and writes the same properties from the caller's values. */
	writeProperties(n: number): void {
		for (let i = 0; i < n; i++) sink ^= writeProperties(publishProperties, propertiesLength(publishProperties, PUBLISH), tx, 0);
	},
	/** MQTT 5.0 QoS 0 telemetry: the topic as its alias, the same properties object each time. */
	client5PublishQos0Alias(n: number): void {
		publish5Qos0(client5, broker5, n, TELEMETRY_PROPERTIES, ALIASED5 + TELEMETRY_PROPERTY_BYTES);
	},
	/** MQTT 5.0 QoS 1 with properties; the broker's PUBACK carries a reason code, which onDelivered gets. */
	client5PublishQos1(n: number): void {
		const before = delivered5;
		const reasons = reasons5;
		const written = broker5.bytesWritten;
		for (let i = 0; i < n; i++) {
			if (client5.publish(TOPIC, PAYLOAD, 1, false, TELEMETRY_PROPERTIES) <= 0) throw new Error("publish refused");
			broker5.deliver();
		}
		checkBytes(broker5, written, n, QOS1_5);
		if (delivered5 - before !== n || reasons5 - reasons !== n) throw new Error(`delivered ${delivered5 - before} of ${n}, ${reasons5 - reasons} with the reason code`);
	},
	/** An inbound MQTT 5.0 QoS 1 PUBLISH with properties: the handler reads them in place; PUBACK. */
	client5ReceiveQos1(n: number): void {
		const before = handled5;
		const written = broker5.bytesWritten;
		for (let i = 0; i < n; i++) {
			broker5.inject(inbound5, inbound5.length);
			broker5.deliver();
		}
		if (handled5 - before !== n) throw new Error(`handled ${handled5 - before} of ${n}`);
		if (broker5.bytesWritten - written !== 4 * n) throw new Error("PUBACKs missing");
	},
	/** An inbound MQTT 5.0 PUBLISH naming its topic by an alias the broker set before. */
	client5ReceiveAlias(n: number): void {
		const before = aliasedIn5;
		for (let i = 0; i < n; i++) {
			broker5.inject(aliasUse5, aliasUse5.length);
			broker5.deliver();
		}
		if (aliasedIn5 - before !== n) throw new Error(`${aliasedIn5 - before} of ${n} read through the alias`);
	},
	/** MQTT 5.0 QoS 0 to a transport that counts bytes, as the topic's alias, without properties. */
	counting5PublishQos0Alias(n: number): void {
		publish5Qos0(counting5Client, counting5, n, undefined, ALIASED5);
	},
	/** The same with the telemetry properties (content type, payload format, message expiry). */
	counting5PublishQos0AliasProperties(n: number): void {
		publish5Qos0(counting5Client, counting5, n, TELEMETRY_PROPERTIES, ALIASED5 + TELEMETRY_PROPERTY_BYTES);
	},
	/** MQTT 5.0 QoS 1 to a transport that counts bytes, without properties; a success PUBACK completes it. */
	counting5PublishQos1(n: number): void {
		counting5RoundTrips(n, undefined, counting5Puback);
	},
	/** The same with the telemetry properties, and a PUBACK with a reason code. */
	counting5PublishQos1Properties(n: number): void {
		counting5RoundTrips(n, TELEMETRY_PROPERTIES, counting5PubackReason);
	},
	/** One step of a QoS 2 pipeline 10 deep (PUBCOMP for the oldest, a publish, PUBREC for the middle one). */
	qos2Pipeline10(n: number): void {
		pipeline10.run(n);
	},
	/** The same, 1,000 deep. */
	qos2Pipeline1000(n: number): void {
		pipeline1000.run(n);
	},
	/** One QoS 2 exchange with 10 others in flight. */
	qos2With10InFlight(n: number): void {
		crowded10.run(n);
	},
	/** One QoS 2 exchange with 1,000 others in flight. */
	qos2With1000InFlight(n: number): void {
		crowded1000.run(n);
	},
	/** QoS 1 with a store: saved when accepted and when PUBACK completes it. */
	clientPublishQos1Stored(n: number): void {
		const before = storedDelivered;
		const saves = store.saves;
		for (let i = 0; i < n; i++) {
			if (storedClient.publish(TOPIC, PAYLOAD, 1, false) <= 0) throw new Error("publish refused");
			storedBroker.deliver();
		}
		if (storedDelivered - before !== n) throw new Error(`delivered ${storedDelivered - before} of ${n}`);
		checkSaves(saves, 2 * n);
	},
	/** QoS 2 with a store: saved when accepted, at PUBREC and at PUBCOMP. */
	clientPublishQos2Stored(n: number): void {
		const before = storedDelivered;
		const saves = store.saves;
		for (let i = 0; i < n; i++) {
			const id = storedClient.publish(TOPIC, PAYLOAD, 2, false);
			if (id <= 0) throw new Error("publish refused");
			storedAck(0x50, id);
			storedAck(0x70, id);
		}
		if (storedDelivered - before !== n) throw new Error(`delivered ${storedDelivered - before} of ${n}`);
		checkSaves(saves, 3 * n);
	},
	/** An inbound QoS 2 PUBLISH with a store: handler, saved, PUBREC; PUBREL, saved, PUBCOMP. */
	clientReceiveQos2Stored(n: number): void {
		const before = storedHandled;
		const saves = store.saves;
		const written = storedBroker.bytesWritten;
		for (let i = 0; i < n; i++) {
			storedBroker.inject(inboundQos2, inboundQos2Length);
			storedBroker.deliver();
			storedAck(0x62, 9);
		}
		if (storedHandled - before !== n) throw new Error(`handled ${storedHandled - before} of ${n}`);
		if (storedBroker.bytesWritten - written !== 8 * n) throw new Error("PUBREC or PUBCOMP missing");
		checkSaves(saves, 2 * n);
	},
};

(globalThis as unknown as { workloads: typeof workloads; workloadsReady: boolean }).workloads = workloads;
(globalThis as unknown as { workloadsReady: boolean }).workloadsReady = true;
