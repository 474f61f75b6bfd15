// The MQTT session (3.1.1, or 5.0 with `protocolVersion: 5`) as a pure state machine: decoded packets, clock ticks and API calls in;
// packets to send (through a Transmit), events and snapshots to persist out. No sockets, no timers,
// no store: every protocol path is testable.

import { PacketView, parsePacket } from "./decode.js";
import { PacketView5, parsePacket5 } from "./decode5.js";
import { checkRemaining, encodeConnect, encodeEmpty, encodeSubscribe, encodeUnsubscribe, packetSize, payloadLength, PROTOCOL_LEVEL_5, publishRemaining, TopicCache, writePublish } from "./encode.js";
import { encodeAck5, encodeReasonPacket, writePublish5 } from "./encode5.js";
import { connackError, connackError5, ErrorCode, MqttError } from "./errors.js";
import {
	AUTH, CONNACK, DISCONNECT, DUP_FLAG, MAX_PACKET_SIZE, PACKET_NAMES, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH,
	PUBLISH_HEADER, PUBREC, PUBREL, REQUIRED_FLAGS, RETAIN_FLAG, SUBACK, SUBACK_FAILURE, SUBSCRIBE, TYPE_SHIFT, UNSUBACK,
} from "./constants.js";
import type { Payload, QoS, Will } from "./packet.js";
import { Properties, Property, propertiesLength, propertiesSize } from "./properties.js";
import type { PropertyValues } from "./properties.js";
import { ReasonCode, reasonAllowed, reasonName } from "./reason-codes.js";
import { FREE, MessagePool, QUEUED, RELEASE, RELEASING, RESEND, SENT } from "./pool.js";
import { checkSnapshot, fnv1a, forEachEntry, inboundId, SnapshotInfo, snapshotCapacity, writeSnapshot } from "./snapshot.js";
import type { Transmit } from "./transmit.js";
import { Subscriptions } from "./subscriptions.js";
import { sharedFilterStart } from "./subscriptions.js";
import type { Request, SubscribeOptions, SubscriptionEntry } from "./subscriptions.js";
import { validateTopicFilter } from "./topic.js";
import { LENGTH_SIZE_SHIFT, LENGTH_VALUE_MASK, readRemainingLength, writeRemainingLength } from "./remaining-length.js";
import { checkUtf8, utf8Length, writeUtf8 } from "./utf8.js";

export interface SessionOptions {
	clientId: string;
	/** Start a new session on every connect (default true). */
	cleanSession?: boolean;
	/** Seconds; 0 turns keepalive off (default 60). */
	keepAlive?: number;
	username?: string;
	password?: Payload;
	will?: Will;
	/** Transmit buffer bytes: the largest packet that can be sent (default 1024). */
	txBufferSize?: number;
	/** Bytes for unacknowledged QoS 1/2 messages and the offline queue (default 4096). */
	queueBytes?: number;
	/** Messages the pool can hold (default 32). */
	maxMessages?: number;
	/** QoS 1/2 messages in flight at once (default 8). */
	maxInflight?: number;
	/** Inbound QoS 2 identifiers awaiting PUBREL (default 64). More in flight at once is INBOUND_QOS2_FULL: the connection is closed and the broker re-sends (nothing lost or doubled). Keep it above what the broker puts in flight (mosquitto before 2.0.13 may exceed its own max_inflight_messages). */
	maxInboundQos2?: number;
	/** Milliseconds from opening a connection to CONNACK (default 10000). */
	connectTimeout?: number;
	/**
	 * The largest packet the broker takes, in bytes (default: no limit but the buffers). A PUBLISH
	 * or SUBSCRIBE above it throws PACKET_TOO_LARGE at once instead of being sent to a broker that
	 * would close the connection on it (mosquitto's `max_packet_size`, AWS IoT's 128 KB).
	 */
	maxPacketSize?: number;
	/**
	 * A SUBSCRIBE, UNSUBSCRIBE or QoS 1/2 PUBLISH answered by the connection closing, this many
	 * times in a row while it was the only request in flight, is set aside: reported as
	 * REJECTED_BY_BROKER and never sent again, so that what waits behind it proceeds (default 3).
	 */
	maxAttempts?: number;
	/**
	 * A connection that gets any acknowledgement, or lasts this many milliseconds, has proved
	 * itself (default 10000): its close does not count against what was in flight, and the client's
	 * backoff starts again from its first delay. Until then, every close counts.
	 */
	stableAfter?: number;
	/** QoS 0 messages published while offline: "drop" (counted) or "queue" in the pool (default "drop"). */
	qos0WhileOffline?: "drop" | "queue";
	/**
	 * Snapshots of the in-flight state go out through `persist` on each change a power cut must not
	 * lose, and `restore` takes one back (see snapshot.ts). Default false.
	 */
	snapshots?: boolean;

	// ---- MQTT 5.0 ----
	/** 4 for MQTT 3.1.1 (the default), 5 for MQTT 5.0. */
	protocolVersion?: 4 | 5;
	/**
	 * MQTT 5.0: seconds the broker keeps the session after the connection ends (5.0 §3.1.2.11.2);
	 * 0 ends it with the connection, 4,294,967,295 never. Default: 0 with `cleanSession`, else never
	 * (what a 3.1.1 persistent session is). `cleanSession` is the Clean Start flag.
	 */
	sessionExpiry?: number;
	/**
	 * MQTT 5.0: the most topic aliases this client sets for the QoS 0 messages it sends at once, up to
	 * the broker's Topic Alias Maximum (default 16). A topic sent again goes as its two-byte alias.
	 */
	topicAliases?: number;
	/**
	 * MQTT 5.0: the Topic Alias Maximum announced: how many aliases the broker may set on the messages
	 * it sends us (default 0, none). Each is kept in a fixed slot of ALIAS_TOPIC_BYTES bytes.
	 */
	inboundTopicAliases?: number;
	/** MQTT 5.0: the receive buffer's size, announced as our Maximum Packet Size (the client sets it). */
	rxBufferSize?: number;
	/** MQTT 5.0: ask for Response Information in CONNACK (5.0 §3.1.2.11.6, default false). */
	requestResponseInformation?: boolean;
	/** MQTT 5.0: false asks the broker to leave reason strings and user properties out of failures (default true). */
	requestProblemInformation?: boolean;
	/** MQTT 5.0: user properties sent in CONNECT. */
	userProperties?: ReadonlyArray<readonly [string, string]>;
	/** MQTT 5.0 enhanced authentication (5.0 §4.12): the method, and the data CONNECT carries. */
	authenticationMethod?: string;
	authenticationData?: Uint8Array;
}

const NO_TOPICS: Array<string | undefined> = [];
const NO_BYTES = new Uint8Array(0);

/** Bytes kept per inbound topic alias (MQTT 5.0): a broker's alias for a longer topic is refused (TOPIC_ALIAS_INVALID). */
export const ALIAS_TOPIC_BYTES = 128;

/**
 * What the broker said in its CONNACK (MQTT 5.0 §3.2.2.3), for the connection in progress; with
 * MQTT 3.1.1, and before the first CONNACK, the values 5.0 gives when a property is absent.
 */
export class BrokerInfo {
	/** QoS 1/2 messages it takes in flight at once (Receive Maximum). */
	receiveMaximum = 65_535;
	/** The largest packet it takes, in bytes (Maximum Packet Size). */
	maximumPacketSize = MAX_PACKET_SIZE;
	maximumQoS: QoS = 2;
	retainAvailable = true;
	wildcardSubscriptionAvailable = true;
	subscriptionIdentifiersAvailable = true;
	sharedSubscriptionAvailable = true;
	/** Aliases we may set on the topics we send (Topic Alias Maximum). */
	topicAliasMaximum = 0;
	/** Keep alive it imposes in seconds (Server Keep Alive), or -1. */
	serverKeepAlive = -1;
	/** The Session Expiry Interval in force (ours, unless it answered with its own), seconds. */
	sessionExpiry = 0;
	/** The client identifier it assigned (to an empty one), when it did. */
	assignedClientIdentifier: string | undefined = undefined;
	responseInformation: string | undefined = undefined;
	serverReference: string | undefined = undefined;
	reasonString: string | undefined = undefined;
	/** Its user properties, as [name, value] pairs. */
	userProperties: Array<[string, string]> = [];

	/** Reads a CONNACK's properties (allocates only for the strings it holds). */
	read(p: Properties, sessionExpiry: number): void {
		this.receiveMaximum = p.number(Property.RECEIVE_MAXIMUM, 65_535);
		this.maximumPacketSize = p.number(Property.MAXIMUM_PACKET_SIZE, MAX_PACKET_SIZE);
		this.maximumQoS = p.number(Property.MAXIMUM_QOS, 2) as QoS;
		this.retainAvailable = p.number(Property.RETAIN_AVAILABLE, 1) === 1;
		this.wildcardSubscriptionAvailable = p.number(Property.WILDCARD_SUBSCRIPTION_AVAILABLE, 1) === 1;
		this.subscriptionIdentifiersAvailable = p.number(Property.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1) === 1;
		this.sharedSubscriptionAvailable = p.number(Property.SHARED_SUBSCRIPTION_AVAILABLE, 1) === 1;
		this.topicAliasMaximum = p.number(Property.TOPIC_ALIAS_MAXIMUM, 0);
		this.serverKeepAlive = p.number(Property.SERVER_KEEP_ALIVE, -1);
		this.sessionExpiry = p.number(Property.SESSION_EXPIRY_INTERVAL, sessionExpiry);
		this.assignedClientIdentifier = p.string(Property.ASSIGNED_CLIENT_IDENTIFIER);
		this.responseInformation = p.string(Property.RESPONSE_INFORMATION);
		this.serverReference = p.string(Property.SERVER_REFERENCE);
		this.reasonString = p.string(Property.REASON_STRING);
		this.userProperties = p.has(Property.USER_PROPERTY) ? p.userPairs() : [];
	}
}

/** What a 3.1.1 broker is taken to accept: MQTT 5.0's defaults (never changed: 3.1.1 has no CONNACK properties). */
const DEFAULTS_311 = new BrokerInfo();

/** What the session tells its owner (the client). */
export interface SessionEvents {
	/** The connection must be closed, for this reason; the session is already disconnected. */
	failed(error: MqttError, wasConnected: boolean): void;
	connected(sessionPresent: boolean): void;
	/** An inbound PUBLISH; the view is valid only during the call. The acknowledgement follows it. */
	message(message: PacketView): void;
	/** An inbound PUBLISH larger than the receive buffer: reported, acknowledged, not delivered. */
	oversize(message: PacketView): void;
	/**
	 * An outbound QoS 1 or 2 message completed its exchange, at `qos`: 1 for a QoS 2 message that
	 * the broker completed with PUBACK (it grants at most QoS 1). MQTT 5.0: `reasonCode` is the
	 * broker's (below 0x80, taken; from 0x80 on, refused: 0x87 Not authorized, 0x97 Quota exceeded, ...).
	 */
	delivered(packetId: number, qos: QoS, reasonCode: number): void;
	/** SUBACK for `filter`: the granted QoS (0..2) or 0x80 for a refusal. */
	subscribed(filter: string, returnCode: number): void;
	/** UNSUBACK for `filter`; MQTT 5.0: its reason code (0, 0x11 No subscription existed, or a refusal). */
	unsubscribed(filter: string, reasonCode: number): void;
	/**
	 * MQTT 5.0: the broker continues enhanced authentication (AUTH 0x18, 5.0 §4.12). Returns the data
	 * to answer with, or undefined to give up (the connection fails with AUTHENTICATION_FAILED).
	 */
	auth(reasonCode: number, properties: Properties): Uint8Array | undefined;
	/** Something went wrong that does not end the connection (MQTT 5.0: a subscription or message refused locally, a payload not UTF-8). */
	problem(error: MqttError): void;
	/** A publish refused for want of room may now be accepted. */
	writable(): void;
	/**
	 * A request the broker answered by closing the connection, `maxAttempts` times when sent alone,
	 * was set aside (REJECTED_BY_BROKER, naming its topic). For a QoS 1/2 PUBLISH, `message` holds
	 * copies of what it carried; a SUBSCRIBE is also reported by `subscribed(filter, 0x80)`.
	 */
	rejected(error: MqttError, message: RejectedMessage | undefined): void;
	/**
	 * The in-flight state changed in a way a power cut must not lose (only with `snapshots`): bytes
	 * [0, length) of `data` are its snapshot, to save before going on. `data` is the session's own
	 * buffer, written again for the next snapshot.
	 */
	persist(data: Uint8Array, length: number): void;
}

export const DISCONNECTED = 0;
export const CONNECTING = 1;
export const CONNECTED = 2;
export const CLOSED = 3;
/** Where the session is: between connections, waiting for CONNACK, connected, or closed for good. */
export type SessionState = typeof DISCONNECTED | typeof CONNECTING | typeof CONNECTED | typeof CLOSED;

/** A QoS 1/2 message set aside (REJECTED_BY_BROKER): copies of what it carried, to log or store. */
export interface RejectedMessage {
	packetId: number;
	topic: string;
	payload: Uint8Array;
	qos: QoS;
	retain: boolean;
}

/** Counters a user can read at any time (`client.stats`). */
export class SessionStats {
	connects = 0;
	messagesSent = 0;
	messagesReceived = 0;
	duplicatesIgnored = 0;
	qos0Dropped = 0;
	oversizeReceived = 0;
	pings = 0;
	/** Outbound QoS 2 messages the broker completed with PUBACK (it grants at most QoS 1: RabbitMQ). */
	qos2AckedAsQos1 = 0;
	/** Requests set aside after the broker closed the connection on them (REJECTED_BY_BROKER). */
	rejected = 0;
	/** MQTT 5.0: outbound messages the broker answered with a reason code of 0x80 or more. */
	refusedByBroker = 0;
	/** MQTT 5.0: inbound messages marked UTF-8 whose payload was not (refused with 0x99). */
	payloadFormatInvalid = 0;
	/** MQTT 5.0: QoS 0 messages sent with a topic alias instead of their topic. */
	aliased = 0;
}

const ACK_SIZE = 4;
/** The smallest transmit buffer, and the largest of any buffer (a maximum packet and its header). */
export const MIN_TX_BUFFER = 16;
export const MAX_BUFFER = 268_435_460;
/** Bytes after the pool for the last published topic, encoded (see TopicCache): topics up to 126 bytes. */
export const TOPIC_CACHE_BYTES = 128;
/** Room before the cached topic for a PUBLISH fixed header (1 + up to 4 length bytes). */
export const HEADER_ROOM = 5;

export class Session<H = unknown> {
	state: SessionState = DISCONNECTED;
	readonly stats = new SessionStats();
	/** The in-flight store: unacknowledged QoS 1/2 messages (and offline QoS 0) in publish order. */
	readonly pool: MessagePool;
	private readonly topicCache: TopicCache;
	readonly subscriptions = new Subscriptions<H>();
	private readonly inboundIds: Uint16Array;
	private inboundCount = 0;
	private nextId = 1;
	/** Keep alive in ms: ours, or the broker's Server Keep Alive (MQTT 5.0) on this connection. */
	private keepAliveMs: number;
	private connectDeadline = 0;
	private lastSent = 0;
	/**
	 * A packet went out since the last tick (publishes are not stamped with the time, to save
	 * reading the clock per message): it went after `lastTick`, so the next tick takes `lastTick` as
	 * its time. That can only make keepalive ping earlier, never let silence last longer.
	 */
	private sentSinceTick = false;
	private lastTick = 0;
	private lastReceived = 0;
	private pingOutstanding = false;
	/** A refused publish waits for this many free transmit bytes (0: none waits). */
	private blockedOnTransmit = 0;
	/** A refused publish waits for room in the pool. */
	private blockedOnPool = false;
	private readonly options: Required<Omit<SessionOptions, OptionalOptions>> & Omit<SessionOptions, "password">;
	/** 4 (MQTT 3.1.1) or 5 (MQTT 5.0; 4 after `fallBack`). */
	version: 4 | 5;
	/** The client identifier CONNECT carries: the one given, or the one the broker assigned (MQTT 5.0). */
	clientId: string;
	/** What the broker said in its CONNACK (MQTT 5.0; with 3.1.1, the defaults, shared by all 3.1.1 sessions). */
	broker: BrokerInfo;
	/** MQTT 5.0 CONNECT properties, made once. */
	private readonly connectProperties: PropertyValues | undefined;
	/** QoS 1/2 messages in flight at once on this connection: maxInflight, or less when the broker's Receive Maximum says so. */
	private inflightLimit: number;
	/** Bytes an acknowledgement may take: 4, or 5 with an MQTT 5.0 reason code. */
	private ackRoom: number;
	/** MQTT 5.0 outbound topic aliases: alias n names aliasTopics[n - 1], set on this connection. */
	private readonly aliasTopics: Array<string | undefined>;
	private aliasLimit = 0;
	private aliasCount = 0;
	/** MQTT 5.0 inbound topic aliases: alias n's topic is aliasIn[(n - 1) * ALIAS_TOPIC_BYTES, + aliasInLengths[n - 1]). */
	private readonly aliasIn: Uint8Array;
	private readonly aliasInLengths: Uint8Array;
	/** Held apart from the options, in a private field: inspecting or serialising the session never shows it. */
	readonly #password: Payload | undefined;
	/** FNV-1a of the client identifier's UTF-8, written into snapshots and checked on restore. */
	private owner: number;
	/** The snapshot's region, after everything else in the pool's memory (empty without `snapshots`). */
	private readonly snapshotAt: number = 0;
	private readonly snapshot: Uint8Array | undefined;
	/** When CONNACK came on this connection. */
	private connectedAt = 0;
	/** An acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK or PINGRESP) came on this connection. */
	private progress = false;
	/**
	 * A connection closed young (within stableAfter) with requests in flight: the oldest of them,
	 * the suspect, may be what the broker will not take. Until the suspect is acknowledged (or set
	 * aside), requests go one at a time, so that a close can be blamed on the one in flight, the
	 * probe (see maxAttempts). The suspect is a request or a pool entry (-1: none).
	 */
	probing = false;
	private suspectRequest: Request | undefined = undefined;
	private suspectEntry = -1;
	/** The probe in flight on this connection: a request, or a pool entry (-1: none). */
	private probeRequest: Request | undefined = undefined;
	private probeEntry = -1;
	/**
	 * The PINGRESP to the PINGREQ sent right behind the probe came: the broker read past the probe
	 * without closing. A connection cut before then (a network fault) may still count against it, but
	 * only within one round trip of its sending, not for the whole life of the connection.
	 */
	private probePassed = false;
	/** PINGREQs sent and not yet answered on this connection, and how many of them went before the probe's. */
	private pingsOut = 0;
	private pingsBeforeProbe = 0;
	/** MQTT 5.0: a re-authentication we began (AUTH 0x19) awaits the broker's AUTH 0x00 on this connection. */
	private reauthenticating = false;

	/** `tx`: where packets go (its size is `txBufferSize`, the largest packet that can be sent). */
	constructor(options: SessionOptions, readonly events: SessionEvents, readonly tx: Transmit) {
		const { password, ...given } = options;
		const o = {
			cleanSession: true, keepAlive: 60, txBufferSize: tx.size, queueBytes: 4096, maxMessages: 32,
			maxInflight: 8, maxInboundQos2: 64, connectTimeout: 10_000, qos0WhileOffline: "drop" as const,
			maxPacketSize: MAX_PACKET_SIZE, maxAttempts: 3, stableAfter: 10_000, snapshots: false,
			...given,
		};
		this.#password = password;
		// The 5.0 options are read here once, not kept with defaults: each kept field is a heap slot in XS.
		const version = o.protocolVersion ?? 4;
		const topicAliases = o.topicAliases ?? 16;
		const inboundTopicAliases = o.inboundTopicAliases ?? 0;
		if (version !== 4 && version !== 5)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, `protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), not ${String(version)}`);
		this.version = version;
		if (version === 4) {
			for (const name of ["sessionExpiry", "userProperties", "authenticationMethod", "authenticationData"] as const)
				if (o[name] !== undefined) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} needs MQTT 5.0 (protocolVersion 5)`);
			if (inboundTopicAliases !== 0) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "inboundTopicAliases needs MQTT 5.0 (protocolVersion 5)");
			if (o.requestResponseInformation !== undefined || o.requestProblemInformation !== undefined)
				throw new MqttError(ErrorCode.INVALID_ARGUMENT, "requestResponseInformation and requestProblemInformation need MQTT 5.0 (protocolVersion 5)");
		}
		checkInteger("topicAliases", topicAliases, 0, 65_535);
		checkInteger("inboundTopicAliases", inboundTopicAliases, 0, 65_535);
		if (o.sessionExpiry !== undefined) checkInteger("sessionExpiry", o.sessionExpiry, 0, 4_294_967_295);
		if (o.rxBufferSize !== undefined) checkInteger("rxBufferSize", o.rxBufferSize, 16, MAX_BUFFER);
		this.clientId = o.clientId;
		this.connectProperties = version === 5 ? connectProperties(o) : undefined;
		this.ackRoom = version === 5 ? ACK_SIZE + 1 : ACK_SIZE;
		// A 5.0 session takes packets and publishes through the 5.0 paths as its own methods: the
		// 3.1.1 paths then carry no test of the version (in XS each costs on every message).
		if (version === 5) {
			this.receive = this.receive5 as (p: PacketView, now: number) => void;
			this.publish = this.publish5;
		}
		// A 3.1.1 session shares what it does not use: every field and object costs heap slots in XS.
		this.broker = version === 5 ? new BrokerInfo() : DEFAULTS_311;
		this.aliasTopics = version === 5 && topicAliases > 0 ? new Array<string | undefined>(topicAliases).fill(undefined) : NO_TOPICS;
		this.aliasIn = inboundTopicAliases > 0 ? new Uint8Array(inboundTopicAliases * ALIAS_TOPIC_BYTES) : NO_BYTES;
		this.aliasInLengths = inboundTopicAliases > 0 ? new Uint8Array(inboundTopicAliases) : NO_BYTES;
		checkInteger("keepAlive", o.keepAlive, 0, 65_535);
		checkInteger("txBufferSize", o.txBufferSize, MIN_TX_BUFFER, MAX_BUFFER);
		if (o.txBufferSize !== tx.size)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, `txBufferSize is ${o.txBufferSize} but the transmit buffer has ${tx.size} bytes`);
		checkInteger("queueBytes", o.queueBytes, 0, MAX_BUFFER);
		checkInteger("maxMessages", o.maxMessages, 1, 65_535);
		checkInteger("maxInflight", o.maxInflight, 1, 65_535);
		checkInteger("maxInboundQos2", o.maxInboundQos2, 1, 65_535);
		checkInteger("connectTimeout", o.connectTimeout, 1, 2_147_483_647);
		checkInteger("maxPacketSize", o.maxPacketSize, 2, MAX_PACKET_SIZE);
		checkInteger("maxAttempts", o.maxAttempts, 1, 255);
		checkInteger("stableAfter", o.stableAfter, 0, 2_147_483_647);
		this.options = o;
		this.maxPacketSize = o.maxPacketSize;
		this.sendLimit = Math.min(o.txBufferSize, o.maxPacketSize);
		this.inflightLimit = o.maxInflight;
		const snapshotBytes = o.snapshots ? snapshotCapacity(o.maxMessages, o.queueBytes, o.maxInboundQos2) : 0;
		const id = new Uint8Array(utf8Length(o.clientId, true));
		writeUtf8(o.clientId, id, 0);
		// A snapshot holds packets as encoded for one protocol version: its owner is the client id and the version.
		this.owner = (fnv1a(id, 0, id.length) ^ (version === 5 ? 0x5005 : 0)) >>> 0;
		// Validate CONNECT now, so that a bad client id, will or password throws before any byte:
		// encoded where it will be sent from (nothing is there yet), then zeroed (it may hold the password).
		let connectSize: number;
		try {
			connectSize = encodeConnect(tx.mem, 0, this.connectPacket());
		}
		catch (error) {
			if (!(error instanceof MqttError) || error.code !== ErrorCode.BUFFER_TOO_SMALL) throw error;
			throw new MqttError(ErrorCode.BUFFER_TOO_SMALL, `the CONNECT (client id, will, credentials) does not fit the ${o.txBufferSize}-byte transmit buffer (txBufferSize): ${error.message}`);
		}
		tx.mem.fill(0, 0, connectSize);
		if (connectSize > o.maxPacketSize)
			throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `the ${connectSize}-byte CONNECT (client id, will, credentials) is larger than the broker's maximum packet size of ${o.maxPacketSize} bytes (maxPacketSize)`);
		// The pool's messages, then the last published topic (with room for a PUBLISH header before
		// it), then the snapshot: one buffer, so that messages are copied natively between them.
		const mem = new Uint8Array(o.queueBytes + HEADER_ROOM + TOPIC_CACHE_BYTES + snapshotBytes);
		this.pool = new MessagePool(mem, 0, o.queueBytes, o.maxMessages);
		this.topicCache = new TopicCache(mem, o.queueBytes + HEADER_ROOM, TOPIC_CACHE_BYTES);
		this.inboundIds = new Uint16Array(o.maxInboundQos2);
		this.keepAliveMs = o.keepAlive * 1000;
		if (snapshotBytes > 0) {
			this.snapshotAt = mem.length - snapshotBytes;
			this.snapshot = new Uint8Array(mem.buffer, this.snapshotAt, snapshotBytes);
		}
	}

	// ---- snapshots -----------------------------------------------------------------------

	/**
	 * Takes over a stored snapshot (before the first connection). Returns why it was ignored, or
	 * undefined when it was taken (or `bytes` is undefined: nothing was stored).
	 */
	restore(bytes: Uint8Array | undefined): string | undefined {
		if (bytes === undefined || bytes === null) return undefined;
		if (!(bytes instanceof Uint8Array)) return "it is not a Uint8Array";
		if (this.snapshot === undefined) return "this session keeps no snapshots";
		if (this.pool.count > 0 || this.state !== DISCONNECTED) return "the session is in use already";
		const info = new SnapshotInfo();
		const problem = checkSnapshot(bytes, { ...this.options, owner: this.owner }, info);
		if (problem !== undefined) return problem;
		const pool = this.pool;
		const mem = pool.mem;
		const saved = bytes;
		forEachEntry(saved, info, (id, qos, state, start, length) => {
			const i = pool.restore(id, qos, state, saved, start, length);
			// Saved before it was sent, or after: it may have reached the broker, so DUP 1 (§3.3.1.1).
			if (i >= 0 && length > 0) mem[pool.offsets[i]!] = mem[pool.offsets[i]!]! | DUP_FLAG;
		});
		for (let j = 0; j < info.inbound; j++) this.inboundIds[j] = inboundId(saved, info, j);
		this.inboundCount = info.inbound;
		this.nextId = info.nextId;
		return undefined;
	}

	/** Writes the in-flight state as a snapshot and hands it out (nothing without `snapshots`). Allocates nothing. */
	private persist(): void {
		const snapshot = this.snapshot;
		if (snapshot === undefined) return;
		const length = writeSnapshot(this.pool.mem, this.snapshotAt, this.pool, this.nextId, this.inboundIds, this.inboundCount, this.owner);
		this.events.persist(snapshot, length);
	}

	private connectPacket() {
		const o = this.options;
		const v5 = this.version === 5;
		const will = o.will;
		return {
			type: 1 as const, protocolLevel: v5 ? PROTOCOL_LEVEL_5 : 4, properties: v5 ? this.connectProperties : undefined, clientId: this.clientId,
			cleanSession: o.cleanSession, keepAlive: o.keepAlive, username: o.username, password: this.#password,
			// After a fall back to 3.1.1, the will goes without its 5.0 properties.
			will: v5 || will?.properties === undefined ? will : { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain },
		};
	}

	/**
	 * MQTT 5.0 → 3.1.1, between connections, once the broker refused 5.0 (UNACCEPTABLE_PROTOCOL_VERSION):
	 * from the next CONNECT on the session speaks 3.1.1. Messages waiting in the pool lose their
	 * properties (re-encoded in place: they only shrink), subscriptions their 5.0 options; a will its
	 * properties. The owner must frame 3.1.1 from then on too.
	 */
	fallBack(): void {
		if (this.version === 4 || this.state !== DISCONNECTED) return;
		this.version = 4;
		this.receive = Session.prototype.receive;
		this.publish = Session.prototype.publish;
		this.broker = DEFAULTS_311;
		this.ackRoom = ACK_SIZE;
		this.aliasLimit = 0;
		const o = this.options;
		this.keepAliveMs = o.keepAlive * 1000;
		this.inflightLimit = o.maxInflight;
		this.sendLimit = Math.min(o.txBufferSize, o.maxPacketSize);
		this.owner = (this.owner ^ 0x5005) >>> 0;
		const pool = this.pool;
		for (let k = 0; k < pool.count; k++) {
			const i = pool.at(k);
			const state = pool.states[i];
			if (state === QUEUED || state === SENT || state === RESEND) pool.lengths[i] = stripProperties(pool.mem, pool.offsets[i]!, pool.lengths[i]!);
		}
		const subscriptions = this.subscriptions;
		for (const entry of subscriptions.entries) entry.options = undefined;
		for (const request of subscriptions.requests) request.options = undefined;
		if (this.snapshot !== undefined) this.persist();
	}

	// ---- the connection ------------------------------------------------------------------

	/** A connection attempt starts now (the transport is opening): the connect timeout runs. */
	opening(now: number): void {
		this.checkOpen();
		this.state = CONNECTING;
		this.connectDeadline = now + this.options.connectTimeout;
	}

	/** The transport is open: sends CONNECT. */
	opened(now: number): void {
		const tx = this.tx;
		this.lastSent = this.lastReceived = this.lastTick = now;
		this.sentSinceTick = false;
		this.reauthenticating = false;
		// Nothing else is sent before CONNACK: the CONNECT fits (checked at construction).
		tx.clear();
		const at = tx.claim(tx.size);
		tx.commit(encodeConnect(tx.mem, at, this.connectPacket()), this.#password !== undefined);
	}

	/**
	 * The transport closed (the broker or the network ended the connection): what was in flight
	 * waits for the next one. A close that came before the connection proved itself, with requests
	 * in flight, starts probing, or counts against the probe (see maxAttempts).
	 */
	closed(now: number = this.lastTick): void {
		if (this.state === CLOSED) return;
		const wasConnected = this.state === CONNECTED;
		const inFlight = wasConnected && this.findSuspect();
		this.state = DISCONNECTED;
		this.disconnectBookkeeping();
		if (inFlight) this.judge(now);
		this.clearProbe();
	}

	/**
	 * Did this connection prove itself (for the client's backoff): an acknowledgement came, or it
	 * lasted `stableAfter`?
	 */
	proven(now: number): boolean {
		return this.progress || now - this.connectedAt >= this.options.stableAfter;
	}

	/**
	 * Is a request sent on this connection still unacknowledged? Unless probing already, the oldest
	 * of them becomes the suspect (`suspectRequest` or `suspectEntry`), for judge. Call before
	 * disconnectBookkeeping.
	 */
	private findSuspect(): boolean {
		// Requests go out before pool messages (pump), so a sent request is the oldest in flight.
		const requests = this.subscriptions.requests;
		for (let i = 0; i < requests.length; i++) {
			if (!requests[i]!.sent) continue;
			if (!this.probing) this.suspectRequest = requests[i];
			return true;
		}
		const pool = this.pool;
		for (let k = 0; k < pool.count; k++) {
			const i = pool.at(k);
			const state = pool.states[i];
			if (state !== SENT && state !== RELEASING) continue;
			if (!this.probing) this.suspectEntry = i;
			return true;
		}
		return false;
	}

	/**
	 * The broker closed a connection with requests in flight (they are marked for re-sending
	 * already). A young connection starts probing, with the oldest of them as the suspect; while
	 * probing, the close counts against the probe that was in flight alone.
	 */
	private judge(now: number): void {
		const young = now - this.connectedAt < this.options.stableAfter;
		if (!this.probing) {
			// findSuspect() named it.
			if (young) this.probing = true;
			else {
				this.suspectRequest = undefined;
				this.suspectEntry = -1;
			}
			return;
		}
		const blamed = young && !this.probePassed;
		const max = this.options.maxAttempts;
		const r = this.probeRequest;
		if (r !== undefined) {
			r.strikes = blamed ? r.strikes + 1 : 0;
			if (r.strikes >= max) this.rejectRequest(r);
			return;
		}
		const i = this.probeEntry;
		// A PUBREL is never set aside: the broker took the message already (PUBREC).
		if (i < 0 || this.pool.states[i] !== RESEND) return;
		const strikes = blamed ? this.pool.strikes[i]! + 1 : 0;
		this.pool.strikes[i] = strikes;
		if (strikes >= max) this.rejectMessage(i);
	}

	private probeInFlight(): boolean {
		return this.probeRequest !== undefined || this.probeEntry >= 0;
	}

	private clearProbe(): void {
		this.probeRequest = undefined;
		this.probeEntry = -1;
	}

	/** The probe is acknowledged, or set aside: when it was the suspect, send as usual again. */
	private probeDone(suspect: boolean): void {
		this.clearProbe();
		if (!suspect) return;
		this.probing = false;
		this.suspectRequest = undefined;
		this.suspectEntry = -1;
	}

	/** Sets aside a SUBSCRIBE or UNSUBSCRIBE the broker closed the connection on, maxAttempts times. */
	private rejectRequest(r: Request): void {
		this.subscriptions.drop(r);
		this.probeDone(r === this.suspectRequest);
		this.stats.rejected++;
		const what = r.kind === "subscribe" ? "SUBSCRIBE" : "UNSUBSCRIBE";
		const error = new MqttError(ErrorCode.REJECTED_BY_BROKER, `the broker closed the connection each of the ${r.strikes} times ${what} ${r.filter} was sent alone: set aside, not sent again`);
		error.topic = r.filter;
		if (r.kind === "subscribe") {
			// The subscription does not exist: forget it (not sent again after a reconnect) and say so as SUBACK 0x80 would.
			this.subscriptions.forget(r.filter);
			this.events.subscribed(r.filter, SUBACK_FAILURE);
		}
		this.events.rejected(error, undefined);
	}

	/**
	 * Sets aside pool entry `i`: a QoS 1/2 PUBLISH the broker closed the connection on, maxAttempts
	 * times (REJECTED_BY_BROKER), or, given `code` and `why`, one it said (MQTT 5.0 CONNACK) it does not take.
	 */
	private rejectMessage(i: number, code: ErrorCode = ErrorCode.REJECTED_BY_BROKER, why = ""): void {
		const pool = this.pool;
		const id = pool.ids[i]!;
		const view = this.version === 5 ? new PacketView5() : new PacketView();
		const offset = pool.offsets[i]!;
		if (this.version === 5) parsePacket5(view as PacketView5, pool.mem, offset, offset + pool.lengths[i]!);
		else parsePacket(view, pool.mem, offset, offset + pool.lengths[i]!);
		const message: RejectedMessage = { packetId: id, topic: view.topic(), payload: view.payloadBytes(), qos: view.qos, retain: view.retain };
		const strikes = pool.strikes[i]!;
		this.probeDone(i === this.suspectEntry);
		pool.remove(i);
		if (this.snapshot !== undefined) this.persist();
		this.stats.rejected++;
		const error = new MqttError(code, code === ErrorCode.REJECTED_BY_BROKER
			? `the broker closed the connection each of the ${strikes} times PUBLISH ${id} (QoS ${message.qos}) to ${message.topic} was sent alone: set aside, not sent again`
			: `PUBLISH ${id} (QoS ${message.qos}) to ${message.topic}: ${why}: set aside, not sent`);
		error.topic = message.topic;
		error.packetId = id;
		this.events.rejected(error, message);
		if (this.blockedOnPool) {
			this.blockedOnPool = false;
			this.events.writable();
		}
	}

	private disconnectBookkeeping(): void {
		this.pool.disconnected();
		this.pingOutstanding = false;
		this.pingsOut = this.pingsBeforeProbe = 0;
		this.subscriptions.disconnected();
	}

	/**
	 * Fails the connection: the owner closes the transport. With MQTT 5.0, an error that names a
	 * reason code (a malformed or illegal packet from the broker) is first said in a DISCONNECT
	 * (5.0 §4.13), unless `answer` is false (the broker's own DISCONNECT, a refused CONNACK).
	 */
	fail(error: MqttError, answer = true): void {
		if (this.state !== CONNECTING && this.state !== CONNECTED) return;
		const wasConnected = this.state === CONNECTED;
		const code = error.reasonCode;
		if (answer && this.version === 5 && code !== undefined && reasonAllowed(DISCONNECT, code) && this.tx.room(3)) {
			const tx = this.tx;
			tx.commit(encodeReasonPacket(tx.mem, tx.claim(3), DISCONNECT, code));
		}
		this.state = DISCONNECTED;
		this.disconnectBookkeeping();
		// This connection ended by our decision (or a broker that said why): not by the broker closing
		// on the probe. The probe's closes in a row start over.
		if (this.probeRequest !== undefined) this.probeRequest.strikes = 0;
		else if (this.probeEntry >= 0) this.pool.strikes[this.probeEntry] = 0;
		this.clearProbe();
		this.events.failed(error, wasConnected);
	}

	/**
	 * The end: DISCONNECT is sent (the broker then discards the will) unless
	 * `sendDisconnect` is false; the owner flushes it and closes the transport. Every later call
	 * throws CLIENT_CLOSED.
	 */
	disconnect(sendDisconnect = true): void {
		if (this.state === CLOSED) return;
		const wasConnected = this.state === CONNECTED;
		this.state = CLOSED;
		this.pool.disconnected();
		// After whatever waits to be sent, when there is room (else the broker publishes the will).
		if (wasConnected && sendDisconnect && this.tx.room(2)) this.sendEmpty(DISCONNECT);
	}

	/** Is there room to answer one more inbound packet? (The owner reads only while there is.) */
	canReceive(): boolean {
		const tx = this.tx;
		return tx.size - tx.tail + tx.head >= this.ackRoom;
	}

	/** PINGREQ or DISCONNECT (after `tx.room(2)`). */
	private sendEmpty(type: number): void {
		const tx = this.tx;
		tx.commit(encodeEmpty(tx.mem, tx.claim(2), type));
	}

	// ---- time ----------------------------------------------------------------------------

	/** Time passes: connect timeout, keepalive PINGREQ, dead-connection detection. */
	tick(now: number): void {
		if (this.state === CONNECTING) {
			if (now >= this.connectDeadline)
				this.fail(new MqttError(ErrorCode.CONNECT_TIMEOUT, `no CONNACK within ${this.options.connectTimeout} ms`));
			return;
		}
		if (this.sentSinceTick) {
			this.sentSinceTick = false;
			if (this.lastTick > this.lastSent) this.lastSent = this.lastTick;
		}
		this.lastTick = now;
		if (this.state !== CONNECTED || this.keepAliveMs === 0) return;
		const k = this.keepAliveMs;
		if (now - this.lastReceived >= k + (k >> 1)) {
			this.fail(new MqttError(ErrorCode.KEEPALIVE_TIMEOUT, `nothing received for ${now - this.lastReceived} ms (1.5 × keep alive of ${k / 1000} s)`));
			return;
		}
		if (!this.pingOutstanding && (now - this.lastSent >= k || now - this.lastReceived >= k) && this.tx.room(2)) {
			this.sendEmpty(PINGREQ);
			this.pingOutstanding = true;
			this.pingsOut++;
			this.lastSent = now;
			this.stats.pings++;
		}
	}

	/** When the next `tick` has something to do (absolute ms), or -1 for never. */
	nextDeadline(): number {
		if (this.state === CONNECTING) return this.connectDeadline;
		if (this.state !== CONNECTED || this.keepAliveMs === 0) return -1;
		const k = this.keepAliveMs;
		const dead = this.lastReceived + k + (k >> 1);
		if (this.pingOutstanding) return dead;
		const ping = Math.min(this.lastSent, this.lastReceived) + k;
		return ping < dead ? ping : dead;
	}

	// ---- inbound packets -----------------------------------------------------------------

	/** Handles one decoded packet (a PacketView5 with MQTT 5.0). Call only while `canReceive()`. */
	receive(p: PacketView, now: number): void {
		this.lastReceived = now;
		if (this.state === CONNECTING) {
			if (p.type !== CONNACK)
				return this.fail(protocolError(ErrorCode.UNEXPECTED_PACKET, `${packetName(p.type)} before CONNACK (the first packet from a broker must be CONNACK)`));
			return this.connack(p.sessionPresent, p.returnCode);
		}
		if (this.state !== CONNECTED) return;
		switch (p.type) {
			case PUBLISH: return this.inboundPublish(p);
			case PUBACK: return this.puback(p.packetId, 0);
			case PUBREC: return this.pubrec(p.packetId, 0);
			case PUBREL: return this.pubrel(p.packetId, 0);
			case PUBCOMP: return this.pubcomp(p.packetId, 0);
			case SUBACK: return this.suback(p);
			case UNSUBACK: return this.unsuback(p.packetId, 0);
			case PINGRESP: return this.pingresp();
			default:
				return this.fail(new MqttError(ErrorCode.UNEXPECTED_PACKET, `a broker must not send ${PACKET_NAMES[p.type]}`));
		}
	}

	/**
	 * `receive` for MQTT 5.0 (a 5.0 session's own `receive`, see the constructor): AUTH may come
	 * before CONNACK; acknowledgements carry reason codes; DISCONNECT and AUTH may come.
	 */
	private receive5(p: PacketView5, now: number): void {
		this.lastReceived = now;
		if (this.state === CONNECTING) {
			if (p.type === AUTH) return this.auth(p);
			if (p.type === CONNACK) return this.connack5(p);
			return this.fail(protocolError(ErrorCode.UNEXPECTED_PACKET, `${packetName(p.type)} before CONNACK (the first packet from a broker must be CONNACK)`));
		}
		if (this.state !== CONNECTED) return;
		switch (p.type) {
			case PUBLISH:
				if (!this.accept5(p)) return;
				return this.inboundPublish(p);
			case PUBACK: return this.puback(p.packetId, p.reasonCode);
			case PUBREC: return this.pubrec(p.packetId, p.reasonCode);
			case PUBREL: return this.pubrel(p.packetId, p.reasonCode);
			case PUBCOMP: return this.pubcomp(p.packetId, p.reasonCode);
			case SUBACK: return this.suback(p);
			case UNSUBACK: return this.unsuback(p.packetId, p.payloadEnd > p.payloadStart ? p.buffer[p.payloadStart]! : 0, p.payloadEnd - p.payloadStart);
			case PINGRESP: return this.pingresp();
			case DISCONNECT: {
				// The broker ends the connection and says why (5.0 §3.14); no DISCONNECT goes back, unless
				// it broke a rule in saying so: a Session Expiry Interval (5.0 §3.14.2.2.2) or 0x04, which
				// only a client sends (5.0 §3.14.2.1).
				const props = p.properties;
				if (props.has(Property.SESSION_EXPIRY_INTERVAL) || p.reasonCode === ReasonCode.DISCONNECT_WITH_WILL)
					return this.fail(protocolError(ErrorCode.UNEXPECTED_PACKET, `the broker sent DISCONNECT ${reasonName(p.reasonCode)}${props.has(Property.SESSION_EXPIRY_INTERVAL) ? " with a Session Expiry Interval, which only a client may send (5.0 §3.14.2.2.2)" : ", which only a client may send (5.0 §3.14.2.1)"}`));
				const reason = props.string(Property.REASON_STRING);
				const reference = props.string(Property.SERVER_REFERENCE);
				const error = new MqttError(ErrorCode.DISCONNECTED_BY_BROKER, `the broker sent DISCONNECT ${reasonName(p.reasonCode)}${reason ? `: ${reason}` : ""}${reference ? ` (server reference ${reference})` : ""}`);
				error.reasonCode = p.reasonCode;
				if (reference !== undefined) error.serverReference = reference;
				return this.fail(error, false);
			}
			case AUTH: return this.auth(p);
			default:
				return this.fail(protocolError(ErrorCode.UNEXPECTED_PACKET, `a broker must not send ${packetName(p.type)}`));
		}
	}

	private pingresp(): void {
		this.pingOutstanding = false;
		this.progress = true;
		if (this.pingsOut > 0) this.pingsOut--;
		if (this.pingsBeforeProbe > 0) this.pingsBeforeProbe--;
		else this.probePassed = true;
	}

	/**
	 * A probe went out: a PINGREQ follows it at once. A broker that will not take the probe closes the
	 * connection before answering; its PINGRESP says it read past the probe.
	 */
	private probeSent(): void {
		this.probePassed = false;
		if (!this.tx.room(2)) return;
		this.pingsBeforeProbe = this.pingsOut;
		this.sendEmpty(PINGREQ);
		this.pingsOut++;
		this.pingOutstanding = true;
		this.stats.pings++;
	}

	/** MQTT 5.0 CONNACK: a refusal with its reason, or the broker's limits for this connection (5.0 §3.2.2.3). */
	private connack5(p: PacketView5): void {
		const props = p.properties;
		const code = p.reasonCode;
		if (code >= 0x80) return this.fail(connackError5(code, props.string(Property.REASON_STRING), props.string(Property.SERVER_REFERENCE)), false);
		const b = this.broker;
		const o = this.options;
		b.read(props, this.connectProperties!.sessionExpiryInterval ?? 0);
		if (b.assignedClientIdentifier !== undefined) this.clientId = b.assignedClientIdentifier;
		this.keepAliveMs = (b.serverKeepAlive >= 0 ? b.serverKeepAlive : o.keepAlive) * 1000;
		this.inflightLimit = Math.min(o.maxInflight, b.receiveMaximum);
		this.sendLimit = Math.min(o.txBufferSize, o.maxPacketSize, b.maximumPacketSize);
		// Topic aliases last one connection, both ways (5.0 §3.3.2.3.4).
		this.aliasLimit = Math.min(this.aliasTopics.length, b.topicAliasMaximum);
		this.aliasCount = 0;
		this.aliasTopics.fill(undefined);
		this.aliasInLengths.fill(0);
		this.connack(p.sessionPresent, 0);
	}

	private connack(sessionPresent: boolean, returnCode: number): void {
		if (returnCode !== 0) return this.fail(connackError(returnCode));
		if (sessionPresent && this.options.cleanSession)
			return this.fail(protocolError(ErrorCode.SESSION_PRESENT_WITH_CLEAN_SESSION, "CONNACK says session present, but clean session was requested"));
		this.state = CONNECTED;
		this.stats.connects++;
		this.pingOutstanding = false;
		this.pingsOut = this.pingsBeforeProbe = 0;
		this.connectedAt = this.lastReceived;
		this.progress = false;
		this.clearProbe();
		if (!sessionPresent) {
			// The broker has no state for us: no inbound QoS 2 is half done, no subscription exists.
			if (this.inboundCount > 0) {
				this.inboundCount = 0;
				if (this.snapshot !== undefined) this.persist();
			}
			// Every subscription is requested again; a suspect UNSUBSCRIBE has nothing left to undo.
			if (this.suspectRequest !== undefined) {
				this.suspectRequest = this.subscriptions.renew(this.suspectRequest);
				if (this.suspectRequest === undefined) this.probeDone(true);
			}
			else this.subscriptions.renew(undefined);
		}
		this.events.connected(sessionPresent);
		if (this.state === CONNECTED) this.pump();
	}

	/**
	 * MQTT 5.0, before an inbound PUBLISH is handled: its topic alias resolved, and a payload marked
	 * UTF-8 that is not refused with 0x99 (5.0 §3.3.2.3.2): not delivered, and the broker does not
	 * send it again. False when the message goes no further.
	 */
	private accept5(p: PacketView5): boolean {
		const props = p.properties;
		if (props.at[Property.TOPIC_ALIAS]! >= 0 && !this.inboundAlias(p, props.number(Property.TOPIC_ALIAS, 0))) return false;
		if (props.at[Property.PAYLOAD_FORMAT_INDICATOR]! < 0 || props.number(Property.PAYLOAD_FORMAT_INDICATOR, 0) !== 1 || p.oversize
			|| checkUtf8(p.buffer, p.payloadStart, p.payloadEnd, true) === 0) return true;
		this.stats.payloadFormatInvalid++;
		const error = new MqttError(ErrorCode.PAYLOAD_FORMAT_INVALID, `a message to ${p.topic()} is marked UTF-8 (payload format indicator 1) but its payload is not: refused (0x99), not delivered`);
		error.topic = p.topic();
		this.events.problem(error);
		if (this.state !== CONNECTED) return false;
		if (p.qos === 1) this.ackReason(PUBACK, p.packetId, ReasonCode.PAYLOAD_FORMAT_INVALID);
		else if (p.qos === 2) this.ackReason(PUBREC, p.packetId, ReasonCode.PAYLOAD_FORMAT_INVALID);
		return false;
	}

	private inboundPublish(p: PacketView): void {
		const qos = p.qos;
		if (qos === 2) {
			const id = p.packetId;
			if (this.inboundIndex(id) >= 0) {
				// A re-sent PUBLISH before PUBREL: delivered already; answer PUBREC again.
				this.stats.duplicatesIgnored++;
				return this.ack(PUBREC, id);
			}
			if (this.inboundCount === this.inboundIds.length)
				return this.fail(protocolError(ErrorCode.INBOUND_QOS2_FULL, `more than ${this.inboundIds.length} inbound QoS 2 messages await PUBREL (maxInboundQos2${this.version === 5 ? ", our Receive Maximum" : ""})`, ReasonCode.RECEIVE_MAXIMUM_EXCEEDED));
			this.inboundIds[this.inboundCount++] = id;
		}
		if (p.oversize) {
			this.stats.oversizeReceived++;
			this.events.oversize(p);
		}
		else {
			this.stats.messagesReceived++;
			this.events.message(p);
		}
		// Handled, and recorded before PUBREC: after a restart the broker's re-send is a duplicate.
		if (qos === 2 && this.snapshot !== undefined) this.persist();
		if (this.state !== CONNECTED) return;
		if (qos === 1) this.ack(PUBACK, p.packetId);
		else if (qos === 2) this.ack(PUBREC, p.packetId);
	}

	/**
	 * MQTT 5.0: a PUBLISH with a Topic Alias (5.0 §3.3.2.3.4). With a topic, the alias is set to it;
	 * without, the view's topic becomes the one the alias holds. False when the connection failed.
	 */
	private inboundAlias(p: PacketView, alias: number): boolean {
		const max = this.aliasInLengths.length;
		if (alias > max) {
			this.fail(protocolError(ErrorCode.TOPIC_ALIAS_INVALID, `the broker used topic alias ${alias}; the most we announced is ${max} (inboundTopicAliases)`, ReasonCode.TOPIC_ALIAS_INVALID));
			return false;
		}
		const slot = (alias - 1) * ALIAS_TOPIC_BYTES;
		const table = this.aliasIn;
		const n = p.topicEnd - p.topicStart;
		if (n > 0) {
			if (n > ALIAS_TOPIC_BYTES) {
				this.fail(protocolError(ErrorCode.TOPIC_ALIAS_INVALID, `the broker set topic alias ${alias} to a ${n}-byte topic; an alias slot holds ${ALIAS_TOPIC_BYTES} bytes`, ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR));
				return false;
			}
			const buffer = p.buffer;
			const from = p.topicStart;
			for (let i = 0; i < n; i++) table[slot + i] = buffer[from + i]!;
			this.aliasInLengths[alias - 1] = n;
			return true;
		}
		const length = this.aliasInLengths[alias - 1]!;
		if (length === 0) {
			this.fail(protocolError(ErrorCode.TOPIC_ALIAS_INVALID, `the broker used topic alias ${alias} without a topic before setting it on this connection`, ReasonCode.PROTOCOL_ERROR));
			return false;
		}
		p.topicBuffer = table;
		p.topicStart = slot;
		p.topicEnd = slot + length;
		return true;
	}

	private inboundIndex(id: number): number {
		for (let i = 0; i < this.inboundCount; i++) if (this.inboundIds[i] === id) return i;
		return -1;
	}

	private pubrel(id: number, _reasonCode: number): void {
		const i = this.inboundIndex(id);
		if (i >= 0) {
			this.inboundIds[i] = this.inboundIds[--this.inboundCount]!;
			if (this.snapshot !== undefined) this.persist();
		}
		// Also for an unknown identifier (§4.3.3); MQTT 5.0 says it was not found (0x92, 5.0 §4.3.3).
		if (i < 0 && this.version === 5) this.ackReason(PUBCOMP, id, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND);
		else this.ack(PUBCOMP, id);
	}

	private puback(id: number, reasonCode: number): void {
		const pool = this.pool;
		const i = pool.find(id);
		if (i < 0 || (pool.states[i] !== SENT && pool.states[i] !== RESEND))
			return this.fail(unknownId("PUBACK", id));
		// PUBACK for a QoS 2 PUBLISH still awaiting PUBREC: the broker took it at QoS 1, and the
		// exchange is over (RabbitMQ grants at most QoS 1 and answers QoS 2 so; MQTT.js accepts it).
		if (pool.qos[i] === 2) this.stats.qos2AckedAsQos1++;
		this.complete(i, id, 1, reasonCode);
	}

	private pubrec(id: number, reasonCode: number): void {
		const pool = this.pool;
		const i = pool.find(id);
		if (i < 0 || pool.qos[i] !== 2)
			return this.fail(unknownId("PUBREC", id));
		// MQTT 5.0: a PUBREC of 0x80 or more refuses the message and ends the exchange: no PUBREL (5.0 §4.3.3).
		if (reasonCode >= 0x80) {
			if (pool.states[i] !== SENT && pool.states[i] !== RESEND) return this.fail(unknownId("PUBREC", id));
			return this.complete(i, id, 2, reasonCode);
		}
		// Forget the message, keep the identifier, send PUBREL; never re-send the PUBLISH now.
		const was = pool.states[i];
		this.progress = true;
		if (i === this.probeEntry) this.probeDone(i === this.suspectEntry);
		// PUBREL goes now when it can (not probing, room to send it), else when pump gets to it: then
		// it is marked RELEASE, and sending restarts from it.
		const now = !this.probing && this.tx.room(ACK_SIZE);
		pool.set(i, now ? RELEASING : RELEASE);
		if (was !== RELEASE && was !== RELEASING && this.snapshot !== undefined) this.persist();
		if (now) this.ack(PUBREL, id);
		this.pump();
	}

	private pubcomp(id: number, reasonCode: number): void {
		const i = this.pool.find(id);
		if (i < 0 || (this.pool.states[i] !== RELEASING && this.pool.states[i] !== RELEASE))
			return this.fail(unknownId("PUBCOMP", id));
		this.complete(i, id, 2, reasonCode);
	}

	private complete(i: number, id: number, qos: QoS, reasonCode: number): void {
		this.progress = true;
		if (i === this.probeEntry) this.probeDone(i === this.suspectEntry);
		this.pool.remove(i);
		if (this.snapshot !== undefined) this.persist();
		if (reasonCode >= 0x80) this.stats.refusedByBroker++;
		this.events.delivered(id, qos, reasonCode);
		if (this.blockedOnPool) {
			this.blockedOnPool = false;
			this.events.writable();
		}
		if (this.state === CONNECTED) this.pump();
	}

	private suback(p: PacketView): void {
		const id = p.packetId;
		const subscriptions = this.subscriptions;
		const at = subscriptions.findSent(id, "subscribe");
		if (at < 0) return this.fail(unknownId("SUBACK", id));
		const count = p.payloadEnd - p.payloadStart;
		// A malformed SUBACK acknowledges nothing: the request stays, and is sent again after the reconnect.
		if (count !== 1)
			return this.fail(protocolError(ErrorCode.SUBACK_COUNT_MISMATCH, `SUBACK ${id} has ${count} return codes for 1 topic filter`));
		const request = subscriptions.requests[at]!;
		subscriptions.requests.splice(at, 1);
		this.progress = true;
		if (request === this.probeRequest) this.probeDone(request === this.suspectRequest);
		// The granted QoS, or a refusal: 0x80, or another code of 0x80 and above (see decode.ts).
		const code = p.buffer[p.payloadStart]!;
		subscriptions.granted(request.filter, code);
		this.events.subscribed(request.filter, code);
		if (this.state === CONNECTED) this.pump();
	}

	private unsuback(id: number, reasonCode: number, count = 1): void {
		const requests = this.subscriptions.requests;
		const at = this.subscriptions.findSent(id, "unsubscribe");
		if (at < 0) return this.fail(unknownId("UNSUBACK", id));
		if (count !== 1)
			return this.fail(protocolError(ErrorCode.SUBACK_COUNT_MISMATCH, `UNSUBACK ${id} has ${count} reason codes for 1 topic filter`));
		const request = requests[at]!;
		requests.splice(at, 1);
		this.progress = true;
		if (request === this.probeRequest) this.probeDone(request === this.suspectRequest);
		this.events.unsubscribed(request.filter, reasonCode);
		if (this.state === CONNECTED) this.pump();
	}

	/**
	 * PUBACK, PUBREC, PUBREL or PUBCOMP for `id`, written in place: the type and identifier are known
	 * good here, so encodeAck's checks (for the codec's callers) are not paid on every message.
	 */
	private ack(type: number, id: number): void {
		const tx = this.tx;
		if (!tx.room(ACK_SIZE)) return this.fail(new MqttError(ErrorCode.BUFFER_TOO_SMALL, "no room in the transmit buffer for an acknowledgement"));
		const at = tx.claim(ACK_SIZE);
		const mem = tx.mem;
		mem[at] = type === PUBREL ? (PUBREL << TYPE_SHIFT) | REQUIRED_FLAGS : type << TYPE_SHIFT;
		mem[at + 1] = 2;
		mem[at + 2] = id >> 8;
		mem[at + 3] = id & 0xFF;
		tx.commit(ACK_SIZE);
		this.sentSinceTick = true;
	}

	/** An MQTT 5.0 acknowledgement with a reason code other than success: 5 bytes (5.0 §3.4.2.1). */
	private ackReason(type: number, id: number, reasonCode: number): void {
		const tx = this.tx;
		if (!tx.room(ACK_SIZE + 1)) return this.fail(new MqttError(ErrorCode.BUFFER_TOO_SMALL, "no room in the transmit buffer for an acknowledgement"));
		const at = tx.claim(ACK_SIZE + 1);
		tx.commit(encodeAck5(tx.mem, at, type, id, reasonCode));
		this.sentSinceTick = true;
	}

	/**
	 * MQTT 5.0 enhanced authentication (5.0 §4.12): the broker's AUTH. 0x18 asks for the next step,
	 * which the owner's handler answers; 0x00 ends a re-authentication. After CONNACK the broker
	 * sends AUTH only to answer a re-authentication the client began (5.0 §4.12.1): every other is a
	 * Protocol Error, and the handler is not asked to answer it.
	 */
	private auth(p: PacketView5): void {
		const method = this.options.authenticationMethod;
		const props = p.properties;
		if (method === undefined || p.reasonCode === ReasonCode.RE_AUTHENTICATE
			|| (p.reasonCode === ReasonCode.SUCCESS && this.state !== CONNECTED)
			|| props.string(Property.AUTHENTICATION_METHOD) !== method)
			return this.fail(protocolError(ErrorCode.AUTHENTICATION_FAILED, method === undefined ? "the broker sent AUTH, but no authenticationMethod was given" : `the broker sent AUTH ${reasonName(p.reasonCode)} for method ${props.string(Property.AUTHENTICATION_METHOD)}, not ${method}`));
		if (this.state === CONNECTED && !this.reauthenticating)
			return this.fail(protocolError(ErrorCode.UNEXPECTED_PACKET, `the broker sent AUTH ${reasonName(p.reasonCode)} after CONNACK, but no re-authentication was begun (only the client starts one, 5.0 §4.12.1)`));
		if (p.reasonCode === ReasonCode.SUCCESS) {
			this.reauthenticating = false;
			return;
		}
		const data = this.events.auth(p.reasonCode, props);
		if (this.state !== CONNECTING && this.state !== CONNECTED) return;
		if (data === undefined)
			return this.fail(protocolError(ErrorCode.AUTHENTICATION_FAILED, `authentication by ${method} given up: the handler had no answer to the broker's AUTH`, ReasonCode.UNSPECIFIED_ERROR));
		this.sendAuth(ReasonCode.CONTINUE_AUTHENTICATION, data);
	}

	private sendAuth(reasonCode: number, data: Uint8Array | undefined): void {
		const tx = this.tx;
		const properties: PropertyValues = { authenticationMethod: this.options.authenticationMethod, authenticationData: data };
		const size = authSize(this.options.authenticationMethod, data);
		if (!tx.room(size)) return this.fail(new MqttError(ErrorCode.BUFFER_TOO_SMALL, "no room in the transmit buffer for AUTH"));
		const at = tx.claim(size);
		tx.commit(encodeReasonPacket(tx.mem, at, AUTH, reasonCode, properties));
		this.sentSinceTick = true;
	}

	/** MQTT 5.0: starts re-authentication (AUTH 0x19, 5.0 §4.12.1) with `data`; the broker's AUTH steps follow. */
	reauthenticate(data: Uint8Array | undefined): void {
		this.checkOpen();
		if (this.version !== 5 || this.options.authenticationMethod === undefined)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, "re-authentication needs MQTT 5.0 and an authenticationMethod");
		if (this.state !== CONNECTED) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "re-authentication needs a connection");
		if (!this.tx.room(authSize(this.options.authenticationMethod, data)))
			throw new MqttError(ErrorCode.QUEUE_FULL, "no room in the transmit buffer for AUTH now: retry after onWritable");
		this.reauthenticating = true;
		this.sendAuth(ReasonCode.RE_AUTHENTICATE, data);
	}

	// ---- the API -------------------------------------------------------------------------

	/**
	 * Publishes a message. Returns the packet identifier (QoS 1 and 2), 0 (QoS 0 accepted), or -1
	 * when there is no room now (the transmit buffer, or the pool for QoS 1/2; or offline QoS 0 under the
	 * "drop" policy): `writable` fires when a retry may succeed. Throws on a message that can never
	 * be sent (bad topic, QoS, or larger than the buffers), and after `disconnect()`.
	 */
	publish(topic: string, payload: Payload, qos: QoS, retain: boolean, properties?: PropertyValues): number {
		// A 5.0 session has publish5 as its own `publish` (see the constructor); this is 3.1.1's.
		if (properties !== undefined) return this.publish5(topic, payload, qos, retain, properties);
		const cache = this.topicCache;
		if (qos === 0 && this.state === CONNECTED && payload instanceof Uint8Array) {
			// QoS 0 with bytes, the usual telemetry: validated and encoded into the topic cache once
			// per topic; the fixed header is written just before it, and header and topic go from
			// there, then the payload from where it is.
			if (topic !== cache.topic) cache.lookup(topic);
			if (topic === cache.topic && this.pool.waiting0 === 0) {
				const topicBytes = cache.bytes;
				const payloadBytes = payload.length;
				const remaining = 2 + topicBytes + payloadBytes;
				const total = remaining < 128 ? remaining + 2 : packetSize(publishRemaining(topicBytes, payloadBytes, 0));
				if (total > this.sendLimit) this.tooLarge(total);
				const tx = this.tx;
				if (total > tx.size - tx.tail + tx.head) {
					this.blockedOnTransmit = total;
					return -1;
				}
				const mem = cache.buffer;
				const topicAt = cache.offset;
				let start: number;
				if (remaining < 128) {
					start = topicAt - 2;
					mem[start + 1] = remaining;
				}
				else {
					start = topicAt - (total - remaining);
					writeRemainingLength(remaining, mem, start + 1);
				}
				mem[start] = retain ? PUBLISH_HEADER | RETAIN_FLAG : PUBLISH_HEADER;
				tx.sendPair(mem, start, topicAt + 2 + topicBytes - start, payload, payloadBytes);
				this.stats.messagesSent++;
				this.sentSinceTick = true;
				return 0;
			}
			// A topic too long for the cache, or older QoS 0 messages waiting in the pool: below.
		}
		if (this.state === CLOSED) this.checkOpen();
		if (qos !== 0 && qos !== 1 && qos !== 2)
			throw new MqttError(ErrorCode.INVALID_QOS, `PUBLISH QoS must be 0, 1 or 2, not ${qos}`);
		const topicBytes = topic === cache.topic ? cache.bytes : cache.lookup(topic);
		const payloadBytes = payload instanceof Uint8Array ? payload.length : payloadLength(payload);
		const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
		const total = remaining < 128 ? remaining + 2 : packetSize(publishRemaining(topicBytes, payloadBytes, qos));
		if (total > this.sendLimit) this.tooLarge(total);
		const pool = this.pool;
		if (qos === 0) {
			if (this.state === CONNECTED) {
				// Sent now (encoded into the transmit buffer), unless older QoS 0 messages still wait
				// in the pool (they go first).
				if (pool.waiting0 === 0) {
					const tx = this.tx;
					if (total > tx.size - tx.tail + tx.head) {
						this.blockedOnTransmit = total;
						return -1;
					}
					const at = tx.claim(total);
					writePublish(tx.mem, at, topic, topicBytes, payload, 0, retain, false, 0, remaining, undefined);
					tx.commit(total);
					this.stats.messagesSent++;
					this.sentSinceTick = true;
					return 0;
				}
			}
			else if (this.options.qos0WhileOffline === "drop") {
				this.stats.qos0Dropped++;
				return -1;
			}
		}
		const offset = this.poolRoom(total);
		if (offset < 0) return -1;
		const id = qos > 0 ? this.allocateId() : 0;
		writePublish(pool.mem, offset, topic, topicBytes, payload, qos, retain, false, id, remaining, cache);
		const i = pool.add(id, qos, offset, total, QUEUED);
		// Saved before it can be sent, and before its identifier is returned.
		if (qos > 0 && this.snapshot !== undefined) this.persist();
		if (this.state !== CONNECTED) return id;
		const tx = this.tx;
		// The usual case: nothing waits before it, the window is open, no probe: it goes now, from
		// the pool (what pump would do, without looking for anything else to send).
		if (qos > 0 && pool.scan === pool.count - 1 && this.subscriptions.requests.length === 0 && !this.probing
			&& pool.inflight < this.inflightLimit && total <= tx.size - tx.tail + tx.head) {
			tx.send(pool.mem, offset, total);
			pool.set(i, SENT);
			pool.scan = pool.count;
			this.stats.messagesSent++;
			this.sentSinceTick = true;
		}
		else this.pump();
		return id;
	}

	/**
	 * An MQTT 5.0 publish: with `properties` (message expiry, content type, response topic, ...), a
	 * topic alias for QoS 0 sent at once, and what the broker said it takes (Maximum QoS, Retain
	 * Available, Maximum Packet Size) enforced before a byte is written.
	 */
	private publish5(topic: string, payload: Payload, qos: QoS, retain: boolean, properties: PropertyValues | undefined): number {
		this.checkOpen();
		if (this.version !== 5) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "message properties need MQTT 5.0 (protocolVersion 5)");
		if (qos !== 0 && qos !== 1 && qos !== 2)
			throw new MqttError(ErrorCode.INVALID_QOS, `PUBLISH QoS must be 0, 1 or 2, not ${qos}`);
		const b = this.broker;
		if (qos > b.maximumQoS)
			throw new MqttError(ErrorCode.QOS_NOT_SUPPORTED, `the broker takes QoS ${b.maximumQoS} at most (Maximum QoS in its CONNACK), not ${qos}`);
		if (retain && !b.retainAvailable)
			throw new MqttError(ErrorCode.RETAIN_NOT_SUPPORTED, "the broker does not keep retained messages (Retain Available 0 in its CONNACK)");
		let props = 0;
		if (properties !== undefined) {
			if (properties.topicAlias !== undefined)
				throw new MqttError(ErrorCode.INVALID_ARGUMENT, "topic aliases are set by the client itself (option topicAliases), not given");
			if (properties.subscriptionIdentifier !== undefined)
				throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a PUBLISH from a client carries no subscription identifier (5.0 §3.3.4)");
			props = propertiesLength(properties, PUBLISH);
			const format = properties.payloadFormatIndicator;
			if ((format === 1 || format === true) && typeof payload !== "string") {
				const bytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
				if (checkUtf8(bytes, 0, bytes.length, true) !== 0)
					throw new MqttError(ErrorCode.PAYLOAD_FORMAT_INVALID, "the payload is marked UTF-8 (payloadFormatIndicator 1) but is not well-formed UTF-8");
			}
		}
		const cache = this.topicCache;
		const topicBytes = topic === cache.topic ? cache.bytes : cache.lookup(topic);
		const payloadBytes = payload instanceof Uint8Array ? payload.length : payloadLength(payload);
		const pool = this.pool;
		const tx = this.tx;
		if (qos === 0 && this.state === CONNECTED && pool.waiting0 === 0) {
			// Sent now: as its alias when this connection has one for the topic, else with the topic
			// and a new alias while there are aliases left (set once the packet is written).
			let alias = 0;
			let fresh = false;
			if (this.aliasLimit > 0) {
				alias = this.aliasOf(topic);
				if (alias === 0 && this.aliasCount < this.aliasLimit) {
					alias = this.aliasCount + 1;
					fresh = true;
				}
			}
			const wireTopic = alias > 0 && !fresh ? 0 : topicBytes;
			const remaining = 2 + wireTopic + propertiesSize(props + (alias > 0 ? 3 : 0)) + payloadBytes;
			checkRemaining("PUBLISH", remaining);
			const total = packetSize(remaining);
			if (total > this.sendLimit) this.tooLarge(total);
			if (total > tx.size - tx.tail + tx.head) {
				this.blockedOnTransmit = total;
				return -1;
			}
			const at = tx.claim(total);
			writePublish5(tx.mem, at, topic, wireTopic, payload, 0, retain, 0, remaining, properties, props, alias, undefined);
			tx.commit(total);
			if (fresh) this.aliasTopics[this.aliasCount++] = topic;
			else if (alias > 0) this.stats.aliased++;
			this.stats.messagesSent++;
			this.sentSinceTick = true;
			return 0;
		}
		if (qos === 0 && this.state !== CONNECTED && this.options.qos0WhileOffline === "drop") {
			this.stats.qos0Dropped++;
			return -1;
		}
		// Into the pool (QoS 1/2, or QoS 0 behind others): with its topic, never an alias, as it may
		// be sent again on another connection, where aliases start over.
		const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + propertiesSize(props) + payloadBytes;
		checkRemaining("PUBLISH", remaining);
		const total = packetSize(remaining);
		if (total > this.sendLimit) this.tooLarge(total);
		const offset = this.poolRoom(total);
		if (offset < 0) return -1;
		const id = qos > 0 ? this.allocateId() : 0;
		writePublish5(pool.mem, offset, topic, topicBytes, payload, qos, retain, id, remaining, properties, props, 0, cache);
		pool.add(id, qos, offset, total, QUEUED);
		if (qos > 0 && this.snapshot !== undefined) this.persist();
		if (this.state === CONNECTED) this.pump();
		return id;
	}

	/** Where a `total`-byte message goes in the pool, or -1 when it is full now (`writable` follows). */
	private poolRoom(total: number): number {
		if (total > this.options.queueBytes)
			throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a ${total}-byte PUBLISH cannot fit the ${this.options.queueBytes}-byte message pool (queueBytes)`);
		const offset = this.pool.allocate(total);
		if (offset < 0) this.blockedOnPool = true;
		return offset;
	}

	/** The alias set for `topic` on this connection, or 0. */
	private aliasOf(topic: string): number {
		const topics = this.aliasTopics;
		const n = this.aliasCount;
		for (let i = 0; i < n; i++) if (topics[i] === topic) return i + 1;
		return 0;
	}

	/** options.maxPacketSize, read on every publish. */
	private readonly maxPacketSize: number;
	/** The largest packet that can be sent: the transmit buffer, or the broker's limit (given, or said in its MQTT 5.0 CONNACK). */
	private sendLimit: number;

	private tooLarge(total: number): never {
		if (total > this.broker.maximumPacketSize)
			throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a ${total}-byte PUBLISH is larger than the broker's Maximum Packet Size of ${this.broker.maximumPacketSize} bytes (in its CONNACK)`);
		if (total > this.maxPacketSize)
			throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a ${total}-byte PUBLISH is larger than the broker's maximum packet size of ${this.maxPacketSize} bytes (maxPacketSize)`);
		throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a ${total}-byte PUBLISH cannot fit the ${this.options.txBufferSize}-byte transmit buffer (txBufferSize)`);
	}

	/**
	 * Subscribes (or changes the QoS of an existing subscription). The SUBSCRIBE goes out now when
	 * connected, else on connect; it is sent again after a reconnect without a session.
	 */
	subscribe(filter: string, qos: QoS, handler?: H, options?: SubscribeOptions): SubscriptionEntry<H> {
		this.checkOpen();
		validateTopicFilter(filter);
		if (qos !== 0 && qos !== 1 && qos !== 2)
			throw new MqttError(ErrorCode.INVALID_QOS, `requested QoS must be 0, 1 or 2, not ${qos}`);
		if (options !== undefined) {
			if (this.version !== 5) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "subscription options need MQTT 5.0 (protocolVersion 5)");
			const h = options.retainHandling ?? 0;
			if (h !== 0 && h !== 1 && h !== 2) throw new MqttError(ErrorCode.INVALID_ARGUMENT, `retainHandling must be 0, 1 or 2, not ${String(h)}`);
			propertiesLength(requestProperties(options), SUBSCRIBE);
		}
		if (filter.startsWith("$share/")) {
			// $share/<name>/<filter> (5.0 §4.8.2): a name without wildcards or "/", then a filter.
			const start = sharedFilterStart(filter);
			const name = start > 0 ? filter.slice(7, start - 1) : "";
			if (start === 0 || name === "" || name.includes("+") || name.includes("#") || start === filter.length)
				throw new MqttError(ErrorCode.INVALID_TOPIC_FILTER, `a shared subscription is $share/<name>/<filter>, not ${filter}`);
			if (options?.noLocal) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "a shared subscription cannot have noLocal (5.0 §3.8.3.1)");
		}
		// What the broker said it does not support is refused now (and at connect, for what waits).
		if (this.state === CONNECTED) {
			const refusal = this.unsupported(filter, options);
			if (refusal !== undefined) throw refusal;
		}
		this.checkRequestSize(filter, options);
		const entry = this.subscriptions.subscribe(filter, qos, handler, options);
		if (this.state === CONNECTED) this.pump();
		return entry;
	}

	/** Removes a subscription now (its handler is not called again) and tells the broker. */
	unsubscribe(filter: string): void {
		this.checkOpen();
		validateTopicFilter(filter);
		this.checkRequestSize(filter, undefined);
		this.subscriptions.unsubscribe(filter);
		if (this.state === CONNECTED) this.pump();
	}

	/** A SUBSCRIBE or UNSUBSCRIBE for `filter` must fit the transmit buffer and the broker's limit. */
	private checkRequestSize(filter: string, options: SubscribeOptions | undefined): void {
		const size = requestSize(filter, this.version, options);
		const limit = this.sendLimit;
		if (size > limit)
			throw new MqttError(ErrorCode.PACKET_TOO_LARGE, `a SUBSCRIBE or UNSUBSCRIBE for this ${size - 10}-byte filter is larger than ${limit === this.options.txBufferSize ? `the ${limit}-byte transmit buffer (txBufferSize)` : `the broker's maximum packet size of ${limit} bytes (maxPacketSize)`}`);
	}

	/**
	 * MQTT 5.0: a subscription the broker said it does not take (5.0 §3.2.2.3.11-13), as the error to
	 * report, with the SUBACK reason code it would have sent; undefined when it may be sent.
	 */
	private unsupported(filter: string, options: SubscribeOptions | undefined): MqttError | undefined {
		const b = this.broker;
		let error: MqttError | undefined;
		if (!b.sharedSubscriptionAvailable && filter.startsWith("$share/")) {
			error = new MqttError(ErrorCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED, `the broker takes no shared subscriptions (Shared Subscription Available 0): ${filter}`);
			error.reasonCode = ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
		}
		else if (!b.wildcardSubscriptionAvailable && (filter.includes("+") || filter.includes("#"))) {
			error = new MqttError(ErrorCode.WILDCARD_NOT_SUPPORTED, `the broker takes no wildcard subscriptions (Wildcard Subscription Available 0): ${filter}`);
			error.reasonCode = ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
		}
		else if (!b.subscriptionIdentifiersAvailable && options?.subscriptionIdentifier !== undefined) {
			error = new MqttError(ErrorCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, `the broker takes no subscription identifiers (Subscription Identifiers Available 0): ${filter}`);
			error.reasonCode = ReasonCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED;
		}
		if (error !== undefined) error.topic = filter;
		return error;
	}

	private checkOpen(): void {
		if (this.state === CLOSED) throw new MqttError(ErrorCode.CLIENT_CLOSED, "the client was closed");
	}

	/** The next packet identifier in 1..65,535 that no message or sent request holds (§2.3.1). */
	private allocateId(): number {
		const id = this.nextId;
		this.nextId = id === 65_535 ? 1 : id + 1;
		// Nothing holds an identifier: the next one is free.
		if (this.pool.live === 0 && this.subscriptions.requests.length === 0) return id;
		if (!this.idInUse(id)) return id;
		for (let tries = 1; tries < 65_535; tries++) {
			const id = this.nextId;
			this.nextId = id === 65_535 ? 1 : id + 1;
			if (!this.idInUse(id)) return id;
		}
		// Unreachable: the pool holds at most 65,535 entries and requests take identifiers only while sent.
		throw new MqttError(ErrorCode.QUEUE_FULL, "every packet identifier is in use");
	}

	/** Is `id` held by a pool message or a sent request? */
	private idInUse(id: number): boolean {
		return this.pool.find(id) >= 0 || this.subscriptions.holds(id);
	}

	/**
	 * Sends whatever is waiting, in order, as room and the in-flight window allow:
	 * SUBSCRIBE/UNSUBSCRIBE, then pool messages (PUBREL and DUP re-sends first, as they are older).
	 */
	pump(): void {
		const pool = this.pool;
		const requests = this.subscriptions.requests;
		// Nothing waits to be sent (the usual case after an acknowledgement).
		if (this.state !== CONNECTED || (pool.scan >= pool.count && requests.length === 0)) return;
		const tx = this.tx;
		// Probing: one request in flight at a time, whatever it is, until one is acknowledged.
		const probing = this.probing;
		const v5 = this.version === 5;
		for (let i = 0; i < requests.length; i++) {
			const r = requests[i]!;
			if (r.sent) continue;
			if (v5 && r.kind === "subscribe") {
				// Asked for before the broker said it does not support it: refused here, never sent.
				const refusal = this.unsupported(r.filter, r.options);
				if (refusal !== undefined) {
					this.subscriptions.drop(r);
					this.subscriptions.forget(r.filter);
					if (r === this.suspectRequest) this.probeDone(true);
					this.events.subscribed(r.filter, refusal.reasonCode!);
					this.events.problem(refusal);
					if (this.state !== CONNECTED) return;
					i--;
					continue;
				}
			}
			if (probing && this.probeInFlight()) break;
			const id = this.allocateId();
			if (!this.sendRequest(id, r)) break;
			r.packetId = id;
			r.sent = true;
			if (probing) {
				this.probeRequest = r;
				this.probeSent();
			}
		}
		const mem = pool.mem;
		const maxInflight = this.inflightLimit;
		// Entries before pool.scan have nothing to send; it is left where sending stopped.
		let k = pool.scan;
		for (; k < pool.count; k++) {
			const i = pool.at(k);
			const state = pool.states[i]!;
			if (state === FREE || state === SENT || state === RELEASING) continue;
			const qos = pool.qos[i]!;
			if (probing && qos !== 0 && this.probeInFlight()) break;
			if (state === RELEASE) {
				if (!tx.room(ACK_SIZE)) break;
				this.ack(PUBREL, pool.ids[i]!);
				pool.set(i, RELEASING);
				if (probing) {
					this.probeEntry = i;
					this.probeSent();
				}
				continue;
			}
			if (state === QUEUED && qos !== 0 && pool.inflight >= maxInflight) break;
			const length = pool.lengths[i]!;
			// MQTT 5.0: published before this connection's CONNACK, and beyond what the broker takes
			// (Maximum Packet Size, Maximum QoS, Retain Available): set aside, never sent.
			if (v5 && this.beyondBroker(i, length)) {
				k--;
				if (this.state !== CONNECTED) return;
				continue;
			}
			if (!tx.room(length)) break;
			const offset = pool.offsets[i]!;
			// Sent before, on an earlier connection: DUP 1 from now on (§3.3.1.1).
			if (state === RESEND) mem[offset] = mem[offset]! | DUP_FLAG;
			tx.send(mem, offset, length);
			this.sentSinceTick = true;
			if (state === QUEUED) this.stats.messagesSent++;
			if (qos === 0) {
				pool.remove(i);
				k--;
			}
			else {
				pool.set(i, SENT);
				if (probing) {
					this.probeEntry = i;
					this.probeSent();
				}
			}
		}
		// Sending a QoS 0 entry removes it, and freed entries behind it with it: never start past the end.
		pool.scan = k < pool.count ? k : pool.count;
	}

	/**
	 * MQTT 5.0: is pool entry `i` (of `length` bytes) beyond what the broker said it takes? Then it is
	 * set aside (reported like a message the broker rejected, with the reason) and true returned.
	 */
	private beyondBroker(i: number, length: number): boolean {
		const pool = this.pool;
		const b = this.broker;
		const qos = pool.qos[i]!;
		const retain = (pool.mem[pool.offsets[i]!]! & RETAIN_FLAG) !== 0;
		if (length <= this.sendLimit && qos <= b.maximumQoS && (!retain || b.retainAvailable)) return false;
		const why = length > this.sendLimit
			? [ErrorCode.PACKET_TOO_LARGE, `${length} bytes, above the ${this.sendLimit} that can be sent (the broker's Maximum Packet Size or the buffers)`] as const
			: qos > b.maximumQoS ? [ErrorCode.QOS_NOT_SUPPORTED, `QoS ${qos}, above the broker's Maximum QoS of ${b.maximumQoS}`] as const
			: [ErrorCode.RETAIN_NOT_SUPPORTED, "retained, and the broker keeps no retained messages (Retain Available 0)"] as const;
		this.rejectMessage(i, why[0], why[1]);
		return true;
	}

	/** Sends the SUBSCRIBE or UNSUBSCRIBE of `r` with identifier `id`; false when there is no room. */
	private sendRequest(id: number, r: Request): boolean {
		const tx = this.tx;
		const size = requestSize(r.filter, this.version, r.options);
		if (!tx.room(size)) return false;
		const at = tx.claim(size);
		const o = r.options;
		tx.commit(r.kind === "subscribe"
			? encodeSubscribe(tx.mem, at, id, [o === undefined ? { filter: r.filter, qos: r.qos }
				: { filter: r.filter, qos: r.qos, noLocal: o.noLocal, retainAsPublished: o.retainAsPublished, retainHandling: o.retainHandling }], this.version, requestProperties(o))
			: encodeUnsubscribe(tx.mem, at, id, [r.filter], this.version));
		this.sentSinceTick = true;
		return true;
	}

	/** What waited in the transmit buffer has gone (the owner calls this): continue pending work, release blocked publishers. */
	drained(): void {
		if (this.state === CONNECTED) this.pump();
		if (this.blockedOnTransmit > 0 && this.tx.room(this.blockedOnTransmit)) {
			this.blockedOnTransmit = 0;
			this.events.writable();
		}
	}

	/** Messages accepted and not yet acknowledged (QoS 1/2) or not yet sent (queued QoS 0). */
	get pending(): number {
		return this.pool.live;
	}
}

/**
 * At most the bytes of a SUBSCRIBE or UNSUBSCRIBE for `filter`: header (5), identifier, filter, QoS;
 * with MQTT 5.0, the properties too (their length, a subscription identifier, user properties).
 */
function requestSize(filter: string, version: 4 | 5, options: SubscribeOptions | undefined): number {
	const size = 1 + 4 + 2 + 2 + utf8Length(filter, true) + 1;
	if (version === 4) return size;
	return size + propertiesSize(options === undefined ? 0 : propertiesLength(requestProperties(options), SUBSCRIBE));
}

/** The SUBSCRIBE properties of `options` (a subscription identifier, user properties), or undefined. */
function requestProperties(options: SubscribeOptions | undefined): PropertyValues | undefined {
	if (options === undefined || (options.subscriptionIdentifier === undefined && options.userProperties === undefined)) return undefined;
	return { subscriptionIdentifier: options.subscriptionIdentifier, userProperties: options.userProperties };
}

/**
 * Re-encodes the MQTT 5.0 PUBLISH at mem[offset, offset + length) as 3.1.1, in place: the same
 * header flags, topic, identifier and payload, without the properties. Returns its new length.
 */
function stripProperties(mem: Uint8Array, offset: number, length: number): number {
	const first = mem[offset]!;
	const packed = readRemainingLength(mem, offset + 1, offset + length);
	const header = 1 + (packed >>> LENGTH_SIZE_SHIFT);
	const topicEnd = offset + header + 2 + ((mem[offset + header]! << 8) | mem[offset + header + 1]!);
	const idEnd = topicEnd + (((first >> 1) & 3) > 0 ? 2 : 0);
	const props = readRemainingLength(mem, idEnd, offset + length);
	const payload = idEnd + (props >>> LENGTH_SIZE_SHIFT) + (props & LENGTH_VALUE_MASK);
	const end = offset + length;
	const remaining = (idEnd - offset - header) + (end - payload);
	// The variable header moves to just after the new (never longer) remaining length, then the payload after it.
	const at = writeRemainingLength(remaining, mem, offset + 1);
	mem.copyWithin(at, offset + header, idEnd);
	const payloadAt = at + (idEnd - offset - header);
	mem.copyWithin(payloadAt, payload, end);
	return payloadAt + (end - payload) - offset;
}

/** Options with no default: absent unless given. */
type OptionalOptions = "username" | "password" | "will" | "rxBufferSize" | "userProperties" | "authenticationMethod" | "authenticationData" | "sessionExpiry"
	| "protocolVersion" | "topicAliases" | "inboundTopicAliases" | "requestResponseInformation" | "requestProblemInformation";

/** The MQTT 5.0 CONNECT properties the options ask for (5.0 §3.1.2.11). */
function connectProperties(o: Required<Omit<SessionOptions, OptionalOptions>> & Omit<SessionOptions, "password">): PropertyValues {
	const p: PropertyValues = {};
	const expiry = o.sessionExpiry ?? (o.cleanSession ? 0 : 4_294_967_295);
	if (expiry > 0) p.sessionExpiryInterval = expiry;
	// Inbound QoS 1 is acknowledged as it is handled; QoS 2 waits in maxInboundQos2 slots.
	if (o.maxInboundQos2 < 65_535) p.receiveMaximum = o.maxInboundQos2;
	if (o.rxBufferSize !== undefined) p.maximumPacketSize = o.rxBufferSize;
	if ((o.inboundTopicAliases ?? 0) > 0) p.topicAliasMaximum = o.inboundTopicAliases;
	if (o.requestResponseInformation === true) p.requestResponseInformation = 1;
	if (o.requestProblemInformation === false) p.requestProblemInformation = 0;
	if (o.userProperties !== undefined) p.userProperties = o.userProperties;
	if (o.authenticationMethod !== undefined) p.authenticationMethod = o.authenticationMethod;
	if (o.authenticationData !== undefined) p.authenticationData = o.authenticationData;
	return p;
}

function unknownId(type: string, id: number): MqttError {
	return protocolError(ErrorCode.UNKNOWN_PACKET_ID, `${type} for packet identifier ${id}, which has no exchange in progress`);
}

/** At most the bytes of an AUTH with `method` and `data`: header (5), reason code, properties. */
function authSize(method: string | undefined, data: Uint8Array | undefined): number {
	return 5 + 1 + propertiesSize(propertiesLength({ authenticationMethod: method, authenticationData: data }, AUTH));
}

/** A violation by the broker; MQTT 5.0 names it in the DISCONNECT that closes the connection (0x82 Protocol Error unless said). */
function protocolError(code: ErrorCode, message: string, reasonCode: number = ReasonCode.PROTOCOL_ERROR): MqttError {
	const error = new MqttError(code, message);
	error.reasonCode = reasonCode;
	return error;
}

function packetName(type: number): string {
	return type === AUTH ? "AUTH" : PACKET_NAMES[type]!;
}

export function checkInteger(name: string, value: number, min: number, max: number): void {
	if (typeof value !== "number" || !(value >= min && value <= max) || Math.floor(value) !== value)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer in ${min}..${max}, not ${value}`);
}
