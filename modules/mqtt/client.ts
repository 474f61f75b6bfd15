// The MQTT client: wires a Session to a host's Transport and Clock, reads into the one receive
// buffer, sends through the one transmit buffer, saves snapshots to the Store, dispatches messages
// to subscriptions, and reconnects.

import { parseBody, PacketView } from "./decode.js";
import { PacketView5, parseBody5 } from "./decode5.js";
import { ErrorCode, MqttError } from "./errors.js";
import type { Clock, Store, TlsOptions, Transport, TransportHandler } from "./host.js";
import type { Payload, QoS } from "./packet.js";
import { PacketReader } from "./reader.js";
import { Property } from "./properties.js";
import { ReasonCode } from "./reason-codes.js";
import type { Properties, PropertyValues } from "./properties.js";
import { checkInteger, CONNECTED, MAX_BUFFER, MIN_TX_BUFFER, Session } from "./session.js";
import type { BrokerInfo, RejectedMessage, SessionEvents, SessionOptions, SessionStats } from "./session.js";
import type { SubscribeOptions } from "./subscriptions.js";
import { checkStore, Persistence } from "./snapshot.js";
import { Transmit } from "./transmit.js";

/**
 * A received message: a read-only view over the receive buffer, valid during the handler call only.
 * `topic()`, `payloadText()` and `payloadBytes()` make copies; `topicBuffer[topicStart, topicEnd)`
 * and `buffer[payloadStart, payloadEnd)` read the bytes in place, without allocating.
 */
export interface Message {
	readonly buffer: Uint8Array;
	/** Where the topic's bytes are: `buffer`, or (MQTT 5.0, a topic alias) the client's alias table. */
	readonly topicBuffer: Uint8Array;
	readonly topicStart: number;
	readonly topicEnd: number;
	readonly payloadStart: number;
	readonly payloadEnd: number;
	readonly qos: QoS;
	readonly retain: boolean;
	readonly dup: boolean;
	/** The packet identifier (QoS 1/2), 0 for QoS 0. */
	readonly packetId: number;
	/**
	 * Larger than the receive buffer (onOversize only): the topic when it fitted, the first payload
	 * bytes only, and the whole payload length in `payloadLength`.
	 */
	readonly oversize: boolean;
	readonly payloadLength: number;
	topic(): string;
	payloadText(): string;
	payloadBytes(): Uint8Array;
	/** Does the topic equal `topic` (compared as UTF-8 bytes, without making a string)? */
	topicEquals(topic: string): boolean;
	/**
	 * MQTT 5.0: the message's properties, read in place (undefined with 3.1.1): `string(id)`,
	 * `number(id, otherwise)`, `bytes(id)`, `userPairs()`, with ids from `Property` (properties.js):
	 * RESPONSE_TOPIC, CORRELATION_DATA, CONTENT_TYPE, MESSAGE_EXPIRY_INTERVAL, SUBSCRIPTION_IDENTIFIER, ...
	 */
	readonly properties?: Properties;
}

export type MessageHandler = (this: Client, message: Message) => void;

export interface ReconnectOptions {
	/** First delay in ms (default 1000). */
	initialDelay?: number;
	/** Largest delay in ms (default 60000). */
	maxDelay?: number;
	/** Growth per failed attempt (default 2). */
	factor?: number;
	/** Fraction of each delay taken off at random, 0..1 (default 0.5). */
	jitter?: number;
}

/** The backoff when `reconnect` leaves a field out: 1 s doubling to 60 s, up to half of each delay taken off. */
export const RECONNECT_DEFAULTS: Readonly<Required<ReconnectOptions>> = { initialDelay: 1000, maxDelay: 60_000, factor: 2, jitter: 0.5 };

/** One broker of `servers`: its port defaults to 1883, or 8883 with TLS. */
export interface ServerOptions {
	host: string;
	port?: number;
	/** TLS: true, or options (CA, server name). */
	tls?: boolean | TlsOptions;
}

export interface ClientOptions extends Omit<SessionOptions, "clientId" | "snapshots"> {
	/** The broker (or give `servers` instead: the two forms do not mix). */
	host?: string;
	/** Default 1883, or 8883 with TLS. */
	port?: number;
	/** TLS: true, or options (CA, server name). */
	tls?: boolean | TlsOptions;
	/**
	 * Several brokers, instead of `host`/`port`/`tls`: the client starts with the first. An attempt
	 * that fails, or a connection lost before it proved itself (an acknowledgement, or `stableAfter`),
	 * moves to the next (after the first, round and round) after the usual backoff delay; a lost
	 * connection that had proved itself tries the same server first. `client.server` names the one in
	 * use (read it in onConnect). A persistent session lives on one broker: after a move the broker
	 * answers sessionPresent false, subscriptions are made again and unacknowledged QoS 1/2 messages
	 * sent again (at least once: one the old broker had taken may arrive twice).
	 */
	servers?: ServerOptions[];
	/** Default: generated ("xs-" and 12 hex digits) when clean session is on; required otherwise. */
	clientId?: string;
	/** Receive buffer bytes: the largest packet kept whole (default 1024); larger PUBLISHes are drained. */
	rxBufferSize?: number;
	/** Automatic reconnection with exponential backoff and jitter, or false (default on). */
	reconnect?: ReconnectOptions | false;
	transport: Transport;
	clock: Clock;
	/**
	 * Uniform random numbers in [0, 1) for client ids and jitter (default Math.random, which XS draws
	 * from a hardware source on the ESP32 but, unseeded, the same sequence on every run in the
	 * simulator, on the Pico and in the XS engine from npm: give those a `seededRandom` of their own).
	 */
	random?: () => number;
	/**
	 * MQTT 5.0: when the broker names another server (Server Reference with CONNACK or DISCONNECT
	 * 0x9C Use another server or 0x9D Server moved, 5.0 §4.11), connect there next, after the usual
	 * backoff (default false: the error is reported and the same server tried again).
	 */
	followServerReference?: boolean;
	/**
	 * With `protocolVersion: 5`: when the broker refuses MQTT 5.0 (UNACCEPTABLE_PROTOCOL_VERSION), speak
	 * 3.1.1 from the next attempt on, for good (default false). Queued messages lose their properties.
	 */
	fallbackTo311?: boolean;
	/**
	 * Where unacknowledged QoS 1/2 messages and inbound QoS 2 identifiers outlive a restart: restored
	 * from `load()` at construction, saved on each change a power cut must not lose (see snapshot.ts).
	 */
	store?: Store;

	/** Connected (CONNACK accepted); `sessionPresent` as the broker said. */
	onConnect?: (this: Client, sessionPresent: boolean) => void;
	/** A message no subscription handler took. */
	onMessage?: MessageHandler;
	/** An established connection ended: `error` says why, undefined after `close()`. */
	onClose?: (this: Client, error: MqttError | undefined) => void;
	/** A failure outside an established connection (a refused or timed-out attempt), a handler that threw, or the store (STORE_CORRUPT, STORE_FAILED). */
	onError?: (this: Client, error: MqttError | Error) => void;
	/**
	 * An outbound QoS 1/2 message completed its exchange, at `qos`: 2 for QoS 2, 1 for QoS 1, and
	 * 1 for a QoS 2 message the broker completed with PUBACK (it grants at most QoS 1: RabbitMQ).
	 */
	onDelivered?: (this: Client, packetId: number, qos: QoS, reasonCode: number) => void;
	/**
	 * SUBACK: the granted QoS (0..2), or a refusal: 0x80 (or another code of 0x80 and above that a
	 * broker sent), also when the subscription was set aside (REJECTED_BY_BROKER).
	 */
	onSubscribe?: (this: Client, filter: string, returnCode: number) => void;
	/**
	 * A QoS 1/2 message the broker would not take: it closed the connection each time the message
	 * was sent alone (`maxAttempts` times). It is set aside, never sent again; `message` holds copies
	 * of its topic and payload, to log or store. `onError` gets the same REJECTED_BY_BROKER error.
	 */
	onRejected?: (this: Client, error: MqttError, message: RejectedMessage) => void;
	/** UNSUBACK; MQTT 5.0: its reason code (0, 0x11 No subscription existed, or a refusal from 0x80). */
	onUnsubscribe?: (this: Client, filter: string, reasonCode: number) => void;
	/**
	 * MQTT 5.0 enhanced authentication (5.0 §4.12, with `authenticationMethod`): the broker's AUTH
	 * (0x18 Continue authentication) with its Authentication Data; return the data to answer with,
	 * or undefined to give up (AUTHENTICATION_FAILED).
	 */
	onAuth?: (this: Client, reasonCode: number, data: Uint8Array | undefined) => Uint8Array | undefined;
	/** A publish that returned -1 may now succeed. */
	onWritable?: (this: Client) => void;
	/** A PUBLISH larger than the receive buffer arrived: drained, acknowledged, not delivered. */
	onOversize?: MessageHandler;
}

const IDLE = 0;       // waiting to (re)connect
const OPENING = 1;    // the transport is connecting
const OPEN = 2;       // the transport is up (MQTT connecting or connected)
const CLOSING = 3;    // close() is sending DISCONNECT
const FINISHED = 4;   // closed for good
/** The connection's phase, as the client drives the transport (the session has its own states). */
type Phase = typeof IDLE | typeof OPENING | typeof OPEN | typeof CLOSING | typeof FINISHED;

const CLOSE_GRACE = 2000;

export class Client {
	// What the session and the transport tell the client, relayed by one object each with methods
	// on its prototype: no closure per callback (in XS, a closure costs about ten heap slots).
	private static readonly SessionRelay = class implements SessionEvents {
		constructor(private readonly c: Client) {}
		failed(error: MqttError, wasConnected: boolean): void { this.c.sessionFailed(error, wasConnected); }
		connected(sessionPresent: boolean): void { this.c.sessionConnected(sessionPresent); }
		message(message: PacketView): void { this.c.dispatch(message); }
		oversize(message: PacketView): void {
			const c = this.c;
			if (c.callbacks.onOversize) c.call(c.callbacks.onOversize, message);
		}
		delivered(packetId: number, qos: QoS, reasonCode: number): void { this.c.callbacks.onDelivered?.call(this.c, packetId, qos, reasonCode); }
		subscribed(filter: string, returnCode: number): void { this.c.callbacks.onSubscribe?.call(this.c, filter, returnCode); }
		unsubscribed(filter: string, reasonCode: number): void { this.c.callbacks.onUnsubscribe?.call(this.c, filter, reasonCode); }
		auth(reasonCode: number, properties: Properties): Uint8Array | undefined {
			const c = this.c;
			const handler = c.callbacks.onAuth;
			if (handler === undefined) return undefined;
			try {
				return handler.call(c, reasonCode, properties.bytes(Property.AUTHENTICATION_DATA));
			}
			catch (error) {
				c.callbacks.onError?.call(c, error as Error);
				return undefined;
			}
		}
		problem(error: MqttError): void { this.c.callbacks.onError?.call(this.c, error); }
		writable(): void { this.c.callbacks.onWritable?.call(this.c); }
		rejected(error: MqttError, message: RejectedMessage | undefined): void {
			const c = this.c;
			c.callbacks.onError?.call(c, error);
			if (message !== undefined) c.callbacks.onRejected?.call(c, error, message);
		}
		persist(data: Uint8Array, length: number): void { this.c.save(data, length); }
	};

	private static readonly TransportRelay = class implements TransportHandler {
		constructor(private readonly c: Client) {}
		onOpen(): void { this.c.transportOpened(); }
		onReadable(): void { this.c.service(); }
		onWritable(): void { this.c.writable(); }
		onClose(error: MqttError): void { this.c.transportClosed(error); }
	};

	readonly session: Session<MessageHandler>;
	private readonly reader: PacketReader;
	private readonly tx: Transmit;
	private readonly persistence: Persistence | undefined;
	private readonly transport: Transport;
	private readonly clock: Clock;
	private readonly handler: TransportHandler;
	private readonly onTimer: () => void;
	private host: string;
	private port: number;
	private tls: TlsOptions | undefined;
	/** The brokers to go round (one for the single-server form), and the index of the current one. */
	private readonly servers: Array<{ host: string; port: number; tls: TlsOptions | undefined }>;
	private current = 0;
	private readonly reconnect: Required<ReconnectOptions> | false;
	private readonly random: () => number;
	private readonly callbacks: ClientOptions;
	private phase: Phase = IDLE;
	private attempt = 0;
	private reconnectAt = -1;
	private armedAt = -1;
	private closeBy = -1;

	constructor(options: ClientOptions) {
		if (!options) throw new MqttError(ErrorCode.INVALID_ARGUMENT, "options.host or options.servers must name the broker");
		const servers = checkServers(options);
		if (!options.transport || !options.clock)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, "options.transport and options.clock come from a host (hosts/<platform>)");
		// The callbacks and settings, without the password (which only the session holds, privately).
		const { password: _password, ...callbacks } = options;
		this.callbacks = callbacks;
		this.random = options.random ?? Math.random;
		const cleanSession = options.cleanSession ?? true;
		const version = options.protocolVersion ?? 4;
		let clientId = options.clientId;
		// MQTT 5.0: an empty client id is the broker's to assign (5.0 §3.1.3.1), then used from then on.
		if (version === 5 && clientId === "") { /* kept empty */ }
		else if (clientId === undefined || clientId === "") {
			if (!cleanSession)
				throw new MqttError(ErrorCode.EMPTY_CLIENT_ID, "a persistent session (cleanSession false) needs a stable clientId");
			clientId = "xs-";
			for (let i = 0; i < 12; i++) clientId += "0123456789abcdef"[Math.floor(this.random() * 16) & 15];
		}
		const txBufferSize = options.txBufferSize ?? 1024;
		checkInteger("txBufferSize", txBufferSize, MIN_TX_BUFFER, MAX_BUFFER);
		const store = options.store;
		checkStore(store);
		this.persistence = store === undefined ? undefined : new Persistence(store);
		this.tx = new Transmit(new Uint8Array(txBufferSize));
		const { store: _store, ...sessionOptions } = options;
		const rxBufferSize = options.rxBufferSize ?? 1024;
		this.session = new Session<MessageHandler>({ ...sessionOptions, clientId, cleanSession, snapshots: store !== undefined, rxBufferSize: version === 5 ? rxBufferSize : undefined }, new Client.SessionRelay(this), this.tx);
		const restoreError = this.persistence?.restore(this.session);
		// MQTT 5.0: the receive buffer is the Maximum Packet Size announced, and every packet is framed
		// whole. It holds one byte more: mosquitto (2.0.11 to 2.0.20 at least) leaves the first byte of
		// the fixed header out when it compares a packet with the client's maximum, and sends packets
		// of that maximum plus one; refusing them (0x95) would drop the connection on every such message.
		this.reader = version === 5 ? new PacketReader(rxBufferSize + 1, parseBody5, new PacketView5(), 5) : new PacketReader(rxBufferSize, parseBody, new PacketView(), 4);
		this.transport = options.transport;
		this.clock = options.clock;
		this.servers = servers;
		const first = servers[0]!;
		this.host = first.host;
		this.port = first.port;
		this.tls = first.tls;
		const r = options.reconnect;
		const d = RECONNECT_DEFAULTS;
		this.reconnect = r === false ? false : {
			initialDelay: r?.initialDelay ?? d.initialDelay, maxDelay: r?.maxDelay ?? d.maxDelay,
			factor: r?.factor ?? d.factor, jitter: r?.jitter ?? d.jitter,
		};
		this.handler = new Client.TransportRelay(this);
		this.onTimer = () => this.timer();
		this.open();
		if (restoreError) callbacks.onError?.call(this, restoreError);
	}

	/** Saves a snapshot the session handed out. */
	private save(data: Uint8Array, length: number): void {
		const error = this.persistence!.save(data, length);
		if (error) this.callbacks.onError?.call(this, error);
	}

	// ---- the API -------------------------------------------------------------------------

	/**
	 * Publishes. Returns the packet identifier (QoS 1/2), 0 (QoS 0 accepted), or -1 when there is
	 * no room now (onWritable fires when a retry may succeed; offline QoS 0 is dropped and counted
	 * unless `qos0WhileOffline` is "queue"). QoS 1/2 messages published offline wait in the pool.
	 */
	publish(topic: string, payload: Payload, qos?: QoS, retain?: boolean, properties?: PropertyValues): number {
		// No default parameters: in XS they cost more than the rest of this test.
		return this.session.publish(topic, payload, qos === undefined ? 0 : qos, retain === true, properties);
	}

	/**
	 * Subscribes; `handler` receives the messages whose topic matches `filter` (else onMessage).
	 * MQTT 5.0: `options` (noLocal, retainAsPublished, retainHandling, subscriptionIdentifier).
	 */
	subscribe(filter: string, qos: QoS = 0, handler?: MessageHandler, options?: SubscribeOptions): void {
		this.session.subscribe(filter, qos, handler, options);
	}

	/** MQTT 5.0: starts re-authentication (AUTH 0x19) with `data`; onAuth answers the broker's steps. */
	reauthenticate(data?: Uint8Array): void {
		this.session.reauthenticate(data);
	}

	unsubscribe(filter: string): void {
		this.session.unsubscribe(filter);
	}

	/**
	 * Ends for good. With `disconnect` (the default) DISCONNECT goes first and the broker discards
	 * the will; `close(false)` ends like a lost connection, and the broker publishes the will.
	 */
	close(disconnect = true): void {
		if (this.phase === FINISHED || this.phase === CLOSING) return;
		const wasConnected = this.session.state === CONNECTED;
		this.session.disconnect(disconnect);
		this.reconnectAt = -1;
		if (this.phase === OPEN && this.tx.pending > 0) {
			// DISCONNECT (and what waits before it) is still being sent: onWritable finishes.
			this.phase = CLOSING;
			this.closeBy = this.clock.now() + CLOSE_GRACE;
			this.schedule();
			if (wasConnected) this.callbacks.onClose?.call(this, undefined);
			return;
		}
		this.finish();
		if (wasConnected) this.callbacks.onClose?.call(this, undefined);
	}

	get connected(): boolean {
		return this.session.state === CONNECTED;
	}

	get stats(): SessionStats {
		return this.session.stats;
	}

	/** The client identifier in use: the one given or generated, or (MQTT 5.0) the one the broker assigned. */
	get clientId(): string {
		return this.session.clientId;
	}

	/** MQTT 5.0: what the broker said in its last CONNACK (its limits; 3.1.1: the defaults). */
	get broker(): BrokerInfo {
		return this.session.broker;
	}

	/** The server connected to, or to be tried next: "host:port" (with `servers`, the current one). */
	get server(): string {
		return `${this.host}:${this.port}`;
	}

	/** Bytes of packets the transport has not taken yet (waiting in the transmit buffer). */
	get bytesWaiting(): number {
		return this.tx.pending;
	}

	/** QoS 1/2 messages not yet acknowledged, and queued QoS 0. */
	get pending(): number {
		return this.session.pending;
	}

	// ---- the connection ------------------------------------------------------------------

	private open(): void {
		this.phase = OPENING;
		this.tx.attach(undefined);
		this.reader.reset();
		this.session.opening(this.clock.now());
		this.schedule();
		this.transport.open(this.host, this.port, this.tls, this.handler);
	}

	private transportOpened(): void {
		if (this.phase !== OPENING) return;
		this.phase = OPEN;
		this.tx.attach(this.transport);
		this.session.opened(this.clock.now());
		this.service();
	}

	private transportClosed(error: MqttError): void {
		if (this.phase === FINISHED) return;
		if (this.phase === CLOSING) return this.finish();
		const wasConnected = this.session.state === CONNECTED;
		const now = this.clock.now();
		const proven = wasConnected && this.session.proven(now);
		if (proven) this.attempt = 0;
		this.tx.attach(undefined);
		this.session.closed(now);
		this.phase = IDLE;
		this.report(error, wasConnected, proven);
		this.scheduleReconnect();
	}

	private finish(): void {
		this.phase = FINISHED;
		this.reconnectAt = -1;
		this.tx.attach(undefined);
		this.transport.close();
		this.clock.disarm();
		this.armedAt = -1;
	}

	/**
	 * Tells of a failed attempt or an ended connection, and picks where the next attempt goes: a
	 * Server Reference when followed, else the same server after a connection that proved itself,
	 * else (with several servers) the next one.
	 */
	private report(error: MqttError, wasConnected: boolean, proven: boolean): void {
		const reference = error.serverReference;
		if (reference !== undefined && this.callbacks.followServerReference) this.moveTo(reference);
		else if (!proven) this.rotate();
		if (wasConnected) this.callbacks.onClose?.call(this, error);
		else this.callbacks.onError?.call(this, error);
	}

	/** With several servers: the next one (after the last, the first) becomes the current one. */
	private rotate(): void {
		const servers = this.servers;
		if (servers.length < 2) return;
		this.current = (this.current + 1) % servers.length;
		const next = servers[this.current]!;
		this.host = next.host;
		this.port = next.port;
		this.tls = next.tls;
	}

	/**
	 * Takes the first server of a Server Reference (5.0 §4.11: "host", "host:port", "[v6]:port";
	 * several are separated by spaces) as where to connect next.
	 */
	private moveTo(reference: string): void {
		let first = reference.trim();
		const space = first.indexOf(" ");
		if (space >= 0) first = first.slice(0, space);
		let host = first;
		let port = this.port;
		let portText: string | undefined;
		if (first.startsWith("[")) {
			const close = first.indexOf("]");
			if (close < 0) return;
			host = first.slice(1, close);
			const rest = first.slice(close + 1);
			if (rest.startsWith(":")) portText = rest.slice(1);
			else if (rest !== "") return;
		}
		else {
			const colon = first.indexOf(":");
			// One colon: host:port; more is an IPv6 address without brackets (no port).
			if (colon >= 0 && colon === first.lastIndexOf(":")) {
				host = first.slice(0, colon);
				portText = first.slice(colon + 1);
			}
		}
		if (portText !== undefined) {
			port = Number(portText);
			if (!(Number.isInteger(port) && port > 0 && port < 65_536)) return;
		}
		if (host === "") return;
		this.host = host;
		this.port = port;
	}

	private scheduleReconnect(): void {
		const r = this.reconnect;
		if (!r || this.phase === FINISHED) return;
		const base = Math.min(r.maxDelay, r.initialDelay * Math.pow(r.factor, this.attempt));
		const delay = Math.max(0, Math.round(base * (1 - r.jitter * this.random())));
		this.attempt++;
		this.reconnectAt = this.clock.now() + delay;
		this.schedule();
	}

	// ---- bytes in and out ----------------------------------------------------------------

	/**
	 * Reads and handles packets while the transmit buffer has room to answer them; when it has none,
	 * reading stops until what waits has gone (`writable`).
	 */
	private service(): void {
		const reader = this.reader;
		const session = this.session;
		const transport = this.transport;
		try {
			while (this.phase === OPEN && session.canReceive()) {
				if (reader.next()) session.receive(reader.view, this.clock.now());
				// Every complete packet buffered has been handled: when nothing more comes, all is done.
				else if (reader.fill(transport) <= 0) break;
			}
		}
		catch (error) {
			// The reader found the stream malformed (anything else is a fault of this code: thrown on).
			if (!(error instanceof MqttError)) throw error;
			session.fail(error);
		}
		// A deadline may now be earlier than the one armed (after PINGRESP, the next ping's).
		this.schedule();
	}

	/** The transport has room again: what waits goes; once all has, pending work and reading resume. */
	private writable(): void {
		if (this.phase !== OPEN && this.phase !== CLOSING) return;
		if (!this.tx.flush()) return;
		if (this.phase === CLOSING) return this.finish();
		this.session.drained();
		this.service();
	}

	// ---- time ----------------------------------------------------------------------------

	/** Arms the clock for the earliest deadline, unless it is already armed for one earlier. */
	private schedule(): void {
		if (this.phase === FINISHED) return;
		let deadline = this.session.nextDeadline();
		if (this.reconnectAt >= 0 && (deadline < 0 || this.reconnectAt < deadline)) deadline = this.reconnectAt;
		if (this.phase === CLOSING && (deadline < 0 || this.closeBy < deadline)) deadline = this.closeBy;
		if (deadline < 0) return;
		if (this.armedAt >= 0 && this.armedAt <= deadline) return;
		this.armedAt = deadline;
		this.clock.arm(Math.max(0, deadline - this.clock.now()), this.onTimer);
	}

	private timer(): void {
		this.armedAt = -1;
		const now = this.clock.now();
		if (this.phase === CLOSING) {
			if (now >= this.closeBy) return this.finish();
		}
		else if (this.phase === IDLE && this.reconnectAt >= 0 && now >= this.reconnectAt) {
			this.reconnectAt = -1;
			this.open();
			return;
		}
		this.session.tick(now);
		this.schedule();
	}

	// ---- session events ------------------------------------------------------------------

	private sessionFailed(error: MqttError, wasConnected: boolean): void {
		if (error.code === ErrorCode.UNACCEPTABLE_PROTOCOL_VERSION && this.callbacks.fallbackTo311 && this.session.version === 5) {
			this.session.fallBack();
			this.reader.use(4, parseBody, new PacketView());
		}
		// Session taken over (MQTT 5.0 DISCONNECT 0x8E): another connection uses our client id. However
		// long ours lasted, it proved nothing: the delays grow, so two devices with one id do not take
		// the session from each other every initialDelay.
		const proven = wasConnected && this.session.proven(this.clock.now()) && error.reasonCode !== ReasonCode.SESSION_TAKEN_OVER;
		if (proven) this.attempt = 0;
		this.tx.attach(undefined);
		this.transport.close();
		this.phase = IDLE;
		this.report(error, wasConnected, proven);
		this.scheduleReconnect();
	}

	private sessionConnected(sessionPresent: boolean): void {
		// The backoff is not reset here: a broker that accepts and then closes at once, again and
		// again, must meet growing delays. It is reset when a connection proves itself (an
		// acknowledgement, or `stableAfter`), when that connection ends.
		this.callbacks.onConnect?.call(this, sessionPresent);
	}

	/**
	 * Each subscription whose filter matches (compared on the topic's bytes) gets the message; with
	 * MQTT 5.0, of those with a subscription identifier, only the ones the message names (see
	 * Subscriptions.takes). When that leaves none (identifiers from before a re-subscription), every
	 * matching subscription gets it.
	 */
	private dispatch(message: PacketView): void {
		const subs = this.session.subscriptions;
		const entries = subs.entries;
		const buffer = message.topicBuffer;
		const start = message.topicStart;
		const end = message.topicEnd;
		const properties = (message as Message).properties;
		let taken = false;
		let passed = false;
		for (let i = subs.match(buffer, start, end, 0); i >= 0; i = subs.match(buffer, start, end, i + 1)) {
			// 3.1.1 messages carry no properties: no call on that path.
			if (properties !== undefined && !subs.takes(i, properties)) {
				passed = true;
				continue;
			}
			taken = true;
			this.call(entries[i]!.handler!, message);
		}
		if (!taken && passed) {
			for (let i = subs.match(buffer, start, end, 0); i >= 0; i = subs.match(buffer, start, end, i + 1)) {
				taken = true;
				this.call(entries[i]!.handler!, message);
			}
		}
		if (!taken && this.callbacks.onMessage) this.call(this.callbacks.onMessage, message);
	}

	private call(handler: MessageHandler, message: Message): void {
		try {
			handler.call(this, message);
		}
		catch (error) {
			// The message is still acknowledged: a handler's bug must not make the broker re-send it forever.
			this.callbacks.onError?.call(this, error as Error);
		}
	}
}

/**
 * The brokers of `options`: `servers` (each checked), or the one of `host`/`port`/`tls`; both, or
 * neither, is an INVALID_ARGUMENT error.
 */
function checkServers(options: ClientOptions): Array<{ host: string; port: number; tls: TlsOptions | undefined }> {
	const list = options.servers;
	if (list === undefined) {
		if (typeof options.host !== "string" || !options.host)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, "options.host (or options.servers) must name the broker");
		return [server(options, "options")];
	}
	if (options.host !== undefined || options.port !== undefined || options.tls !== undefined)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "options.servers replaces options.host, port and tls: give one form, not both");
	if (!Array.isArray(list) || list.length === 0)
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, "options.servers must be a non-empty list of { host, port?, tls? }");
	const out: Array<{ host: string; port: number; tls: TlsOptions | undefined }> = [];
	for (let i = 0; i < list.length; i++) {
		const entry = list[i];
		if (!entry || typeof entry.host !== "string" || !entry.host)
			throw new MqttError(ErrorCode.INVALID_ARGUMENT, `options.servers[${i}].host must name a broker`);
		out.push(server(entry, `options.servers[${i}]`));
	}
	return out;
}

/** One server's host, port (checked; by default 1883, or 8883 with TLS) and TLS options. */
function server(entry: ServerOptions | ClientOptions, name: string): { host: string; port: number; tls: TlsOptions | undefined } {
	const t = entry.tls;
	if (t !== undefined && typeof t !== "boolean" && (t === null || typeof t !== "object"))
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name}.tls must be true, false or TLS options`);
	const tls = t === true ? {} : t || undefined;
	const port = entry.port ?? (tls ? 8883 : 1883);
	if (!(Number.isInteger(port) && port > 0 && port < 65_536))
		throw new MqttError(ErrorCode.INVALID_ARGUMENT, `${name}.port must be a whole number, 1..65535, not ${String(entry.port)}`);
	return { host: entry.host!, port, tls };
}
