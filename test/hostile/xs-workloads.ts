// Runs inside the XS engine: each workload replays one hostile byte script n times to a Client over the
// allocation-free ScriptedTransport, checks the close, the typed error, the reconnect and the DUP re-sends.

import { Client } from "../../modules/mqtt/client.js";
import { ErrorCode, MqttError } from "../../modules/mqtt/errors.js";
import { ManualClock } from "../lib/manual-clock.js";
import { ScriptedTransport } from "../lib/scripted-transport.js";
import {
	BAD_UTF8_TOPIC, CONNACK_LENGTH_3, ENDLESS_FILLER, ENDLESS_HEADER, FIFTH_BYTE, garbage, PUBACK_UNKNOWN, PUBREL_FLAGS, QOS3,
	RL_EXACT_PUBLISH, RL_MAX_PUBLISH, RL_MAX_SUBACK, VALID_PUBLISH, writePubackFlags1, writeSubackTwoCodes,
} from "./scripts.js";

const RECONNECT = { initialDelay: 100, factor: 2, maxDelay: 1000, jitter: 0 };
const CONNACK = Uint8Array.of(0x20, 0x02, 0x00, 0x00);
const CONNACK_SESSION = Uint8Array.of(0x20, 0x02, 0x01, 0x00);
const TOPIC_A = "hostile/a";
const TOPIC_B = "hostile/b";
const PAYLOAD = new Uint8Array(32).fill(0x70);
const FILTER = "hostile/commands/+";
/** "Any code": for random garbage, whose code depends on the bytes. */
const ANY = "";

function fail(message: string): never {
	throw new Error(message);
}

/** One client, its scripted broker and clock; connected when made. */
class Case {
	readonly clock = new ManualClock();
	readonly transport = new ScriptedTransport(this.clock);
	readonly client: Client;
	/** onClose / onError calls, the last code reported and when (clock time). */
	closed = 0;
	errors = 0;
	code: string = ANY;
	failedAt = 0;
	handled = 0;
	oversize = 0;
	subscribed = 0;
	/** The last onSubscribe return code, onDelivered QoS, onError and onRejected. */
	lastSuback = -1;
	delivered = 0;
	lastDeliveredQos = -1;
	rejected = 0;
	rejectedId = 0;
	errorCode: string = ANY;
	/** The identifiers publish() returned in the current cycle. */
	readonly ids = new Uint16Array(4);
	/** A buffer for scripts made at run time (they carry identifiers the client chose). */
	readonly scratch = new Uint8Array(16);

	constructor(keepAlive: number, connectTimeout: number) {
		const self = this;
		this.client = new Client({
			host: "scripted", clientId: "xs-hostile", cleanSession: false, keepAlive, connectTimeout,
			reconnect: RECONNECT, transport: this.transport, clock: this.clock,
			onClose(error): void {
				self.closed++;
				self.code = error ? error.code : ANY;
				self.failedAt = self.clock.time;
			},
			onError(error): void {
				self.errors++;
				self.code = self.errorCode = error instanceof MqttError ? error.code : ANY;
				self.failedAt = self.clock.time;
			},
			onMessage(): void { self.handled++; },
			onOversize(): void { self.oversize++; },
			onSubscribe(_filter, code): void {
				self.subscribed++;
				self.lastSuback = code;
			},
			onDelivered(_id, qos): void {
				self.delivered++;
				self.lastDeliveredQos = qos;
			},
			onRejected(_error, message): void {
				self.rejected++;
				self.rejectedId = message.packetId;
			},
		});
		this.transport.setReply(CONNACK, 4);
		this.transport.accept();
		if (!this.client.connected) fail("the case did not connect");
		this.transport.setReply(CONNACK_SESSION, 4);
	}

	/** Two QoS 1 and two QoS 2 messages that the broker will not acknowledge. */
	publishUnacknowledged(): void {
		const t = this.transport;
		t.acking = false;
		t.idCount = t.publishes = t.dups = 0;
		this.ids[0] = this.client.publish(TOPIC_A, PAYLOAD, 1);
		this.ids[1] = this.client.publish(TOPIC_B, PAYLOAD, 2);
		this.ids[2] = this.client.publish(TOPIC_A, PAYLOAD, 1);
		this.ids[3] = this.client.publish(TOPIC_B, PAYLOAD, 2);
		if (t.idCount !== 4 || this.client.pending !== 4) fail("the messages did not go out");
	}

	/** The typed error came once, by `closed` or `errors`, with `code`. */
	checkReport(before: number, after: number, code: string): void {
		if (after !== before + 1) fail(`expected one report, saw ${after - before}`);
		if (code !== ANY ? this.code !== code : this.code === ANY) fail(`expected ${code || "a code"}, saw ${this.code}`);
	}

	/** No reconnect before `backoff` ms after the failure, one right then; DUP re-sends; all acknowledged. */
	resume(backoff: number): void {
		const t = this.transport;
		t.acking = true;
		const opens = t.opens;
		this.clock.advance(this.failedAt + backoff - 1 - this.clock.time);
		if (t.opens !== opens) fail("reconnected before the backoff");
		this.clock.advance(1);
		if (t.opens !== opens + 1) fail("did not reconnect after the backoff");
		t.accept();
		if (!this.client.connected) fail("the reconnect did not connect");
		if (t.publishes !== 4 || t.dups !== 4) fail(`re-sent ${t.publishes} PUBLISH, ${t.dups} with DUP (expected 4)`);
		for (let i = 0; i < 4; i++) if (t.ids[i] !== this.ids[i]) fail("re-sent with other identifiers or in another order");
		if (this.client.pending !== 0) fail(`${this.client.pending} messages still pending`);
	}

	/** A misbehaviour after CONNACK: `script` replayed (see ScriptedTransport.replay), then the reconnect. */
	connected(script: Uint8Array, length: number, chunk: number, every: number, filler: number, steps: number, code: string): void {
		this.publishUnacknowledged();
		const t = this.transport;
		const closes = t.closes;
		const reported = this.closed;
		t.replay(script, length, chunk, every, filler, steps);
		if (t.closes !== closes + 1) fail("the client did not close the connection");
		this.checkReport(reported, this.closed, code);
		this.resume(RECONNECT.initialDelay);
	}

	/** A misbehaviour before CONNACK: the broker drops the connection, the next one answers CONNECT with `reply` (and is silent `silence` ms). */
	connecting(reply: Uint8Array, replyLength: number, silence: number, code: string): void {
		this.publishUnacknowledged();
		const t = this.transport;
		t.drop();
		if (this.code !== ErrorCode.CONNECTION_LOST) fail("the drop was not reported");
		t.setReply(reply, replyLength);
		this.clock.advance(this.failedAt + RECONNECT.initialDelay - this.clock.time);
		const closes = t.closes;
		const reported = this.errors;
		t.accept();
		if (silence > 0) this.clock.advance(silence);
		if (t.closes !== closes + 1) fail("the client did not close the connection");
		this.checkReport(reported, this.errors, code);
		t.setReply(CONNACK_SESSION, 4);
		this.resume(RECONNECT.initialDelay * RECONNECT.factor);
	}
}

/** Moves the clock on until the client opens its transport again; returns the time that took. */
function reopen(c: Case): number {
	const t = c.transport;
	const opens = t.opens;
	const from = c.clock.time;
	for (let i = 0; i < 1000 && t.opens === opens; i++) c.clock.advance(10);
	if (t.opens !== opens + 1) fail("the client did not reconnect");
	return c.clock.time - from;
}

/** A count the transport changed behind TypeScript's narrowing (drop, accept). */
function sent(count: number): number {
	return count;
}

const FORBIDDEN_FILTER = "forbidden/#";
const FORBIDDEN_TOPIC = "forbidden/x";

/** 32 sequences of 64 seeded random bytes (the first is the Node test's). */
const GARBAGE = garbage(32);

const cases = {
	rlMax: new Case(1, 2000),
	rlExact: new Case(1, 2000),
	subackMax: new Case(10, 2000),
	fifthByte: new Case(10, 2000),
	qos3: new Case(10, 2000),
	pubackFlags: new Case(10, 2000),
	pubrelFlags: new Case(10, 2000),
	badUtf8: new Case(10, 2000),
	garbage: new Case(1, 2000),
	connackLength: new Case(10, 2000),
	pubackUnknown: new Case(10, 2000),
	subackCount: new Case(10, 2000),
	connectTimeout: new Case(10, 300),
	dribbleValid: new Case(2, 2000),
	endless: new Case(1, 2000),
	qos2Puback: new Case(10, 2000),
	subackFailure: new Case(10, 2000),
	closeOnSubscribe: new Case(10, 2000),
	closeOnPublish: new Case(10, 2000),
};

let sink = 0;
let kept: unknown[] = [];
let big: Uint8Array | undefined;

export const workloads: Record<string, (n: number) => void> = {
	empty(n: number): void {
		for (let i = 0; i < n; i++) sink ^= i;
	},
	/** Controls: the measurement sees what is kept, and a large buffer. */
	keepObjects(n: number): void {
		for (let i = 0; i < n; i++) kept.push({ i });
	},
	dropObjects(): void {
		kept = [];
	},
	bigBuffer(n: number): void {
		big = new Uint8Array(n);
		sink ^= big.length;
		big = undefined;
	},

	rlMax(n: number): void {
		const c = cases.rlMax;
		for (let i = 0; i < n; i++) {
			const before = c.oversize;
			c.connected(RL_MAX_PUBLISH, RL_MAX_PUBLISH.length, 1500, 100, -1, 40, ErrorCode.KEEPALIVE_TIMEOUT);
			if (c.oversize !== before + 1) fail("the oversize PUBLISH was not reported");
		}
	},
	/** The control for rlMax: the same bytes announcing exactly what follows. */
	rlExact(n: number): void {
		const c = cases.rlExact;
		for (let i = 0; i < n; i++) {
			const before = c.oversize;
			c.connected(RL_EXACT_PUBLISH, RL_EXACT_PUBLISH.length, 1500, 100, -1, 40, ErrorCode.KEEPALIVE_TIMEOUT);
			if (c.oversize !== before + 1) fail("the oversize PUBLISH was not reported");
		}
	},
	subackMax(n: number): void {
		for (let i = 0; i < n; i++) cases.subackMax.connected(RL_MAX_SUBACK, RL_MAX_SUBACK.length, 64, 0, -1, 1, ErrorCode.PACKET_TOO_LARGE);
	},
	fifthByte(n: number): void {
		for (let i = 0; i < n; i++) cases.fifthByte.connected(FIFTH_BYTE, FIFTH_BYTE.length, 64, 0, -1, 1, ErrorCode.MALFORMED_REMAINING_LENGTH);
	},
	qos3(n: number): void {
		for (let i = 0; i < n; i++) cases.qos3.connected(QOS3, QOS3.length, 64, 0, -1, 1, ErrorCode.INVALID_QOS);
	},
	/** For the first message really in flight: flags 0001 make it no acknowledgement. */
	pubackFlags(n: number): void {
		const c = cases.pubackFlags;
		const t = c.transport;
		for (let i = 0; i < n; i++) {
			c.publishUnacknowledged();
			const length = writePubackFlags1(c.scratch, c.ids[0]!);
			const closes = t.closes;
			const reported = c.closed;
			t.replay(c.scratch, length, length, 0, -1, 1);
			if (t.closes !== closes + 1) fail("the client did not close the connection");
			c.checkReport(reported, c.closed, ErrorCode.INVALID_FLAGS);
			c.resume(RECONNECT.initialDelay);
		}
	},
	pubrelFlags(n: number): void {
		for (let i = 0; i < n; i++) cases.pubrelFlags.connected(PUBREL_FLAGS, PUBREL_FLAGS.length, 64, 0, -1, 1, ErrorCode.INVALID_FLAGS);
	},
	badUtf8(n: number): void {
		const c = cases.badUtf8;
		for (let i = 0; i < n; i++) c.connected(BAD_UTF8_TOPIC, BAD_UTF8_TOPIC.length, 64, 0, -1, 1, ErrorCode.MALFORMED_UTF8);
		if (c.handled !== 0) fail("a malformed message was delivered");
	},
	/** A different garbage sequence each cycle; it ends by its protocol error, or by keepalive if the bytes look like the start of a packet. */
	garbage(n: number): void {
		for (let i = 0; i < n; i++) {
			const g = GARBAGE[i % GARBAGE.length]!;
			cases.garbage.connected(g, g.length, 64, 100, -1, 40, ANY);
		}
	},
	connackLength(n: number): void {
		for (let i = 0; i < n; i++) cases.connackLength.connecting(CONNACK_LENGTH_3, CONNACK_LENGTH_3.length, 0, ErrorCode.LENGTH_MISMATCH);
	},
	pubackUnknown(n: number): void {
		for (let i = 0; i < n; i++) cases.pubackUnknown.connected(PUBACK_UNKNOWN, PUBACK_UNKNOWN.length, 64, 0, -1, 1, ErrorCode.UNKNOWN_PACKET_ID);
	},
	/** The SUBSCRIBE in flight gets a SUBACK with two codes; after the reconnect it is sent again and granted. */
	subackCount(n: number): void {
		const c = cases.subackCount;
		const t = c.transport;
		for (let i = 0; i < n; i++) {
			t.acking = false;
			c.client.subscribe(FILTER, 1);
			const length = writeSubackTwoCodes(c.scratch, t.subscribeId);
			const subscribed = c.subscribed;
			c.connected(c.scratch, length, length, 0, -1, 1, ErrorCode.SUBACK_COUNT_MISMATCH);
			if (t.subscribes !== 1 || c.subscribed !== subscribed + 1) fail("the SUBSCRIBE was not sent again and granted");
		}
	},
	connectTimeout(n: number): void {
		for (let i = 0; i < n; i++) cases.connectTimeout.connecting(CONNACK, 0, 300, ErrorCode.CONNECT_TIMEOUT);
	},
	/** Not hostile: a valid packet one byte per 100 ms, 2.3 s per packet with keepAlive 2 s; never a close. */
	dribbleValid(n: number): void {
		const c = cases.dribbleValid;
		const t = c.transport;
		t.acking = false; // no PINGRESP in the middle of the packet
		const closes = t.closes;
		for (let i = 0; i < n; i++) {
			const handled = c.handled;
			const written = t.bytesFromClient;
			t.replay(VALID_PUBLISH, VALID_PUBLISH.length, 1, 100, -1, VALID_PUBLISH.length);
			if (c.handled !== handled + 1) fail("the dribbled message was not delivered");
			if (t.bytesFromClient - written < 4) fail("no PUBACK");
		}
		if (t.closes !== closes || !c.client.connected) fail("a spurious close");
	},
	/** RabbitMQ: a QoS 2 PUBLISH answered with PUBACK completes it at QoS 1; no close. */
	qos2Puback(n: number): void {
		const c = cases.qos2Puback;
		const t = c.transport;
		t.qos2AsPuback = true;
		const closes = t.closes;
		for (let i = 0; i < n; i++) {
			const delivered = c.delivered;
			const counted = c.client.stats.qos2AckedAsQos1;
			if (c.client.publish(TOPIC_B, PAYLOAD, 2) <= 0) fail("publish() refused");
			t.deliver();
			if (c.delivered !== delivered + 1 || c.lastDeliveredQos !== 1) fail("not delivered at QoS 1");
			if (c.client.stats.qos2AckedAsQos1 !== counted + 1 || c.client.pending !== 0) fail("not completed");
		}
		if (t.closes !== closes || !c.client.connected) fail("a close");
	},
	/** ejabberd: SUBACK 0x8F to a 3.1.1 client is a refusal with its code; no close. */
	subackFailure(n: number): void {
		const c = cases.subackFailure;
		const t = c.transport;
		t.subackCode = 0x8F;
		const closes = t.closes;
		for (let i = 0; i < n; i++) {
			const subscribed = c.subscribed;
			c.client.subscribe(FILTER, 1);
			t.deliver();
			if (c.subscribed !== subscribed + 1 || c.lastSuback !== 0x8F) fail("the refusal was not reported with its code");
		}
		if (t.closes !== closes || !c.client.connected) fail("a close");
	},
	/**
	 * RabbitMQ: the connection closed on a SUBSCRIBE, each time: after the first close, it is sent
	 * alone; after the third close alone it is set aside (onSubscribe 0x80, REJECTED_BY_BROKER), with
	 * the backoff growing meanwhile. A QoS 1 message acknowledged at the end proves the connection.
	 */
	closeOnSubscribe(n: number): void {
		const c = cases.closeOnSubscribe;
		const t = c.transport;
		for (let i = 0; i < n; i++) {
			t.acking = false;
			const subscribed = c.subscribed;
			const errors = c.errors;
			c.client.subscribe(FORBIDDEN_FILTER, 1);
			if (t.subscribes !== 1) fail("no SUBSCRIBE");
			t.drop();
			for (let attempt = 1; attempt <= 3; attempt++) {
				const waited = reopen(c);
				// The first close came on a connection an acknowledgement proved: 100 ms; then 200, 400.
				if (waited < RECONNECT.initialDelay << (attempt - 1)) fail(`reconnected after ${waited} ms`);
				t.accept();
				if (t.subscribes !== 1) fail("the SUBSCRIBE was not sent again alone");
				t.drop();
			}
			if (c.subscribed !== subscribed + 1 || c.lastSuback !== 0x80) fail("the set-aside SUBSCRIBE was not reported as 0x80");
			if (c.errors !== errors + 1 || c.errorCode !== ErrorCode.REJECTED_BY_BROKER) fail("no REJECTED_BY_BROKER");
			reopen(c);
			t.acking = true;
			t.accept();
			if (sent(t.subscribes) !== 0) fail("the SUBSCRIBE was sent again");
			const delivered = c.delivered;
			c.client.publish(TOPIC_A, PAYLOAD, 1);
			t.deliver();
			if (c.delivered !== delivered + 1) fail("the connection did not serve");
		}
	},
	/** RabbitMQ: the connection closed on a QoS 1 PUBLISH, each time: set aside (onRejected), the message behind it delivered. */
	closeOnPublish(n: number): void {
		const c = cases.closeOnPublish;
		const t = c.transport;
		for (let i = 0; i < n; i++) {
			t.acking = false;
			const rejected = c.rejected;
			const delivered = c.delivered;
			t.idCount = t.publishes = t.dups = 0;
			const poison = c.client.publish(FORBIDDEN_TOPIC, PAYLOAD, 1);
			c.client.publish(TOPIC_A, PAYLOAD, 1);
			if (t.publishes !== 2) fail("not sent");
			t.drop();
			for (let attempt = 1; attempt <= 3; attempt++) {
				reopen(c);
				t.accept();
				if (sent(t.publishes) !== 1 || t.ids[0] !== poison) fail("the poison was not sent again alone");
				t.drop();
			}
			if (c.rejected !== rejected + 1 || c.rejectedId !== poison) fail("not set aside");
			reopen(c);
			t.acking = true;
			t.accept();
			if (sent(t.publishes) !== 1 || c.delivered !== delivered + 1 || c.client.pending !== 0) fail("the message behind it was not delivered");
		}
	},
	endless(n: number): void {
		for (let i = 0; i < n; i++) cases.endless.connected(ENDLESS_HEADER, ENDLESS_HEADER.length, 1, 100, ENDLESS_FILLER, 60, ErrorCode.KEEPALIVE_TIMEOUT);
	},
};

const g = globalThis as unknown as { hostileWorkloads: typeof workloads; hostileReady: boolean };
g.hostileWorkloads = workloads;
g.hostileReady = true;
