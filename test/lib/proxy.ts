// A TCP proxy on 127.0.0.1 in front of a broker, that a test steers by hand (cut() drops every
// connection, stall() stops forwarding without closing, so only a keepalive can tell, resume() lets
// bytes flow), or that injects faults: from a plan drawn from a seeded PRNG it cuts, stalls and
// half-closes connections at random byte counts or times, a bounded number of times (FAULT_SEED replays).

import * as net from "node:net";
import { HOST } from "./mosquitto.js";
import { Random } from "./random.js";
import { Signal } from "./signal.js";

export type FaultKind = "cut" | "stall" | "half-close";
/** "up": client to broker; "down": broker to client. */
export type Way = "up" | "down";
/** The way(s) a stall holds. */
export type Direction = "both" | Way;

/** One planned fault. */
export interface Fault {
	/** Its place in the plan (0-based); faults strike in this order. */
	readonly index: number;
	readonly kind: FaultKind;
	/**
	 * cut: "both" (both sockets reset and destroyed at once; Node sends a FIN rather than an RST on a
	 * socket it has just written to). stall: the direction(s) that stop forwarding.
	 * half-close: the direction that is ended with a FIN ("up": to the broker, "down": to the client).
	 */
	readonly direction: Direction;
	/**
	 * It strikes once this many more bytes have crossed in direction `on` (0: by time instead); a
	 * connection that ends first hands the rest of the count on to the next one.
	 */
	readonly bytes: number;
	readonly on: Way;
	/** When `bytes` is 0: it strikes this many ms after it was armed (on the connection open then, or the next one to open). */
	readonly afterMs: number;
	/** stall: how long forwarding stops, in ms. */
	readonly stallMs: number;
}

export interface FaultPlanOptions {
	seed: number;
	cuts: number;
	stalls: number;
	halfCloses: number;
	/** Byte triggers are uniform in 1..maxBytes (default 4096). */
	maxBytes?: number;
	/** Share of the faults triggered by time rather than by bytes (default 0.25). */
	timeShare?: number;
	/** Time triggers are uniform in 0..maxDelay ms (default 500). */
	maxDelay?: number;
	/** Stall durations are uniform in this range, ms (default 100..2000). */
	stallMs?: readonly [number, number];
}

/** The plan: the faults in a seeded random order, each with its random trigger and parameters. */
export function planFaults(o: FaultPlanOptions): Fault[] {
	const random = new Random(o.seed);
	const maxBytes = o.maxBytes ?? 4096;
	const timeShare = o.timeShare ?? 0.25;
	const maxDelay = o.maxDelay ?? 500;
	const [stallMin, stallMax] = o.stallMs ?? [100, 2000];
	const kinds: FaultKind[] = [];
	for (let i = 0; i < o.cuts; i++) kinds.push("cut");
	for (let i = 0; i < o.stalls; i++) kinds.push("stall");
	for (let i = 0; i < o.halfCloses; i++) kinds.push("half-close");
	for (let i = kinds.length - 1; i > 0; i--) {
		const j = random.int(0, i);
		const t = kinds[i]!;
		kinds[i] = kinds[j]!;
		kinds[j] = t;
	}
	const ways: readonly Way[] = ["up", "down"];
	const stallWays: readonly Direction[] = ["both", "up", "down"];
	return kinds.map((kind, index) => {
		// The same draws for every kind, so that one fault's parameters never shift the next one's.
		const byTime = random.chance(timeShare);
		const bytes = random.int(1, maxBytes);
		const on = random.pick(ways);
		const afterMs = random.int(0, maxDelay);
		const stallMs = random.int(stallMin, stallMax);
		const stallWay = random.pick(stallWays);
		const halfWay = random.pick(ways);
		const direction = kind === "cut" ? "both" : kind === "stall" ? stallWay : halfWay;
		return { index, kind, direction, bytes: byTime ? 0 : bytes, on, afterMs, stallMs };
	});
}

/** FAULT_SEED when set (to replay a run's plan), else a fresh seed; printed either way with `label`. */
export function faultSeed(label: string): number {
	const text = process.env.FAULT_SEED;
	let seed: number;
	if (text !== undefined && text !== "") {
		seed = Number(text) >>> 0;
		if (!Number.isInteger(Number(text))) throw new Error(`FAULT_SEED must be an integer, not ${JSON.stringify(text)}`);
	}
	else seed = (Math.floor(Math.random() * 0xFFFF_FFFF) >>> 0) || 1;
	process.stdout.write(`      ${label}: fault seed ${seed} (FAULT_SEED=${seed} replays this plan)\n`);
	return seed;
}

/** A fault as it struck. */
export interface Struck {
	fault: Fault;
	/** ms since the proxy started. */
	at: number;
	/** Which connection (1-based, in order of acceptance). */
	connection: number;
	/** Bytes the connection had forwarded each way when it struck. */
	up: number;
	down: number;
}

export interface FaultCounts {
	cuts: number;
	stalls: number;
	stallsBoth: number;
	stallsUp: number;
	stallsDown: number;
	halfCloses: number;
	halfClosesUp: number;
	halfClosesDown: number;
}

/** A half-closed connection that nobody finishes is destroyed after this long. */
const HALF_CLOSE_LIMIT = 5000;
/** A side that closed normally: the other is ended, then destroyed after this long at most. */
const END_LIMIT = 2000;

/** One direction of a connection. */
class Leg {
	readonly queue: Buffer[] = [];
	/** Bytes forwarded. */
	forwarded = 0;
	/** Forwarding stopped by a stall of the plan. */
	stalled = false;
	/** Ended by a half-close: what arrives later is dropped. */
	finished = false;
	/** The sending side sent its FIN: pass it on once the queue is empty. */
	fromEnded = false;
	/** Waiting for the receiving socket's 'drain'. */
	blocked = false;
	constructor(readonly way: Way, readonly from: net.Socket, readonly to: net.Socket) {}
}

class Link {
	upstreamOpen = false;
	dead = false;
	readonly timers: NodeJS.Timeout[] = [];
	readonly up: Leg;
	readonly down: Leg;
	constructor(readonly serial: number, readonly client: net.Socket, readonly upstream: net.Socket) {
		this.up = new Leg("up", client, upstream);
		this.down = new Leg("down", upstream, client);
	}
	leg(way: Way): Leg {
		return way === "up" ? this.up : this.down;
	}
}

/** The next fault: its countdown, and the connection it will strike (none between connections). */
interface Armed {
	link: Link | undefined;
	fault: Fault;
	bytesLeft: number;
	timer: NodeJS.Timeout | undefined;
	/** A time trigger that fired between connections: it strikes the next one. */
	due: boolean;
}

export interface ProxyOptions {
	/** Where to forward (default 127.0.0.1). */
	targetHost?: string;
	/** The faults that strike once `inject()` is called (default none). */
	plan?: readonly Fault[];
	/** Connections open at once (default 32); the listener refuses more. */
	maxConnections?: number;
	/** Each chunk that arrives, before it is forwarded: which way, on which connection (1-based, in order of acceptance). */
	onData?: (way: Way, connection: number, chunk: Buffer) => void;
}

export class Proxy {
	readonly host = HOST;
	/** Connections accepted since the start. */
	accepted = 0;
	/** Something changed (a connection came or went, a fault struck): for `signal.until`. */
	readonly signal = new Signal();
	/** The faults that struck, in order. */
	readonly struck: Struck[] = [];
	/** Bytes forwarded in all, client to broker and broker to client. */
	bytesUp = 0;
	bytesDown = 0;
	private readonly links = new Set<Link>();
	private readonly started = performance.now();
	/** The next fault of the plan to strike. */
	private next = 0;
	private enabled = false;
	private closed = false;
	/** The next fault with its countdown, and the connection it is armed on (none between connections). */
	private armed: Armed | undefined;
	/** Ways held by `stall()` until `resume()`, on every connection (new ones too). */
	private heldUp = false;
	private heldDown = false;

	private constructor(private readonly server: net.Server, readonly port: number, private readonly target: number,
		private readonly targetHost: string, readonly plan: readonly Fault[], private readonly onData: ProxyOptions["onData"]) {}

	/** Listens on a random 127.0.0.1 port and forwards to `targetPort`; the plan's faults strike only after `inject()`. */
	static async start(targetPort: number, options: ProxyOptions = {}): Promise<Proxy> {
		let proxy: Proxy | undefined;
		const server = net.createServer({ allowHalfOpen: true }, (socket) => {
			if (proxy) proxy.accept(socket);
			else socket.destroy();
		});
		server.maxConnections = options.maxConnections ?? 32;
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(0, HOST, () => resolve());
		});
		proxy = new Proxy(server, (server.address() as net.AddressInfo).port, targetPort, options.targetHost ?? HOST, options.plan ?? [], options.onData);
		return proxy;
	}

	// ---- by hand -------------------------------------------------------------------------

	/**
	 * Ends every connection now, outside the plan (not counted): both sides destroyed, a network
	 * failure with no FIN handshake to wait on; "reset" resets them first (RST), as the plan's cuts do.
	 */
	cut(how: "destroy" | "reset" = "destroy"): void {
		this.links.forEach((link) => this.kill(link, how === "reset"));
	}

	/**
	 * Stops forwarding in `direction` without closing anything: bytes stay in the proxy and the
	 * kernel's buffers. New connections are accepted but held likewise, until `resume()`.
	 */
	stall(direction: Direction = "both"): void {
		if (direction !== "down") this.heldUp = true;
		if (direction !== "up") this.heldDown = true;
		this.links.forEach((link) => {
			if (this.heldUp) link.up.from.pause();
			if (this.heldDown) link.down.from.pause();
		});
	}

	/** Forwards again what `stall()` held, held bytes first (a stall of the plan keeps its time). */
	resume(): void {
		this.heldUp = this.heldDown = false;
		this.links.forEach((link) => {
			this.pump(link, link.up);
			this.pump(link, link.down);
		});
	}

	// ---- the plan ------------------------------------------------------------------------

	/** Faults strike from now on, in plan order. */
	inject(): void {
		this.enabled = true;
		const newest = this.newest();
		if (newest) this.arm(newest);
	}

	/** No more faults: the armed one is dropped and stalls end now (the rest of the plan is not used). */
	calm(): void {
		this.enabled = false;
		this.disarm();
		this.links.forEach((link) => {
			if (link.up.stalled || link.down.stalled) this.unstall(link);
		});
	}

	/** Faults of the plan not yet struck. */
	get remaining(): number {
		return this.plan.length - this.next;
	}

	/** Connections open now. */
	get active(): number {
		return this.links.size;
	}

	counts(): FaultCounts {
		const c: FaultCounts = { cuts: 0, stalls: 0, stallsBoth: 0, stallsUp: 0, stallsDown: 0, halfCloses: 0, halfClosesUp: 0, halfClosesDown: 0 };
		for (const s of this.struck) {
			const f = s.fault;
			if (f.kind === "cut") c.cuts++;
			else if (f.kind === "stall") {
				c.stalls++;
				if (f.direction === "both") c.stallsBoth++;
				else if (f.direction === "up") c.stallsUp++;
				else c.stallsDown++;
			}
			else {
				c.halfCloses++;
				if (f.direction === "up") c.halfClosesUp++;
				else c.halfClosesDown++;
			}
		}
		return c;
	}

	/** Closes the listener and every connection. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.calm();
		this.cut("reset");
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	// ---- connections ---------------------------------------------------------------------

	private newest(): Link | undefined {
		let newest: Link | undefined;
		this.links.forEach((link) => {
			if (!newest || link.serial > newest.serial) newest = link;
		});
		return newest;
	}

	private accept(client: net.Socket): void {
		if (this.closed) {
			client.destroy();
			return;
		}
		const upstream = net.connect({ host: this.targetHost, port: this.target, allowHalfOpen: true });
		const link = new Link(++this.accepted, client, upstream);
		this.links.add(link);
		client.setNoDelay(true);
		upstream.setNoDelay(true);
		upstream.once("connect", () => {
			link.upstreamOpen = true;
			this.pump(link, link.up);
		});
		this.wire(link, link.up);
		this.wire(link, link.down);
		this.arm(link);
		this.signal.notify();
	}

	private wire(link: Link, leg: Leg): void {
		leg.from.on("data", (chunk: Buffer) => {
			if (link.dead || leg.finished) return; // after a half-close, the rest is dropped
			this.onData?.(leg.way, link.serial, chunk);
			leg.queue.push(chunk);
			this.pump(link, leg);
		});
		leg.from.on("end", () => {
			leg.fromEnded = true;
			this.pump(link, leg);
		});
		leg.from.on("error", () => {
			// "close" follows, with hadError
		});
		leg.from.once("close", (hadError: boolean) => this.sideClosed(link, leg.from, hadError));
	}

	/** A stall of the plan or by hand holds `leg`. */
	private held(leg: Leg): boolean {
		return leg.stalled || (leg.way === "up" ? this.heldUp : this.heldDown);
	}

	/** Forwards what `leg` holds, as far as stalls, backpressure and the armed fault allow. */
	private pump(link: Link, leg: Leg): void {
		while (!link.dead && !leg.finished && !this.held(leg) && !leg.blocked && leg.queue.length > 0) {
			if (leg.way === "up" && !link.upstreamOpen) break;
			let chunk = leg.queue[0]!;
			const a = this.armed;
			let strike = false;
			if (a && a.link === link && a.fault.bytes > 0 && a.fault.on === leg.way && chunk.length >= a.bytesLeft) {
				// The fault strikes inside this chunk: the bytes before its point go out first.
				if (chunk.length > a.bytesLeft) leg.queue[0] = chunk.subarray(a.bytesLeft);
				else leg.queue.shift();
				chunk = chunk.subarray(0, a.bytesLeft);
				a.bytesLeft = 0;
				strike = true;
			}
			else {
				leg.queue.shift();
				if (a && a.link === link && a.fault.bytes > 0 && a.fault.on === leg.way) a.bytesLeft -= chunk.length;
			}
			if (chunk.length > 0) {
				leg.forwarded += chunk.length;
				if (leg.way === "up") this.bytesUp += chunk.length;
				else this.bytesDown += chunk.length;
				if (!leg.to.write(chunk)) {
					leg.blocked = true;
					leg.to.once("drain", () => {
						leg.blocked = false;
						this.pump(link, leg);
					});
				}
			}
			if (strike) this.strike();
		}
		if (link.dead || leg.finished) return;
		// Hold the sender while bytes wait here (TCP flow control does the rest).
		if (this.held(leg) || leg.queue.length > 0 || leg.blocked) leg.from.pause();
		else {
			leg.from.resume();
			if (leg.fromEnded && !leg.to.writableEnded && !leg.to.destroyed) leg.to.end();
		}
	}

	private sideClosed(link: Link, side: net.Socket, hadError: boolean): void {
		if (link.dead) return;
		const other = side === link.client ? link.upstream : link.client;
		if (hadError || other.destroyed) {
			this.kill(link);
			return;
		}
		// A normal close: the other side gets its FIN once its bytes are out, then goes.
		if (!other.writableEnded) other.end();
		other.once("close", () => this.kill(link));
		link.timers.push(setTimeout(() => this.kill(link), END_LIMIT));
	}

	/** Ends a connection: both sockets destroyed, or with `reset` (a cut) reset first (RST). */
	private kill(link: Link, reset = false): void {
		if (link.dead) return;
		link.dead = true;
		for (const socket of [link.client, link.upstream]) {
			if (reset && !socket.destroyed && !socket.connecting) {
				try {
					socket.resetAndDestroy();
					continue;
				}
				catch {
					// not resettable now: destroyed below
				}
			}
			socket.destroy();
		}
		for (const t of link.timers) clearTimeout(t);
		link.timers.length = 0;
		this.links.delete(link);
		const a = this.armed;
		if (a && a.link === link) {
			// The fault waits for the next connection, with what is left of its byte count or time.
			a.link = undefined;
		}
		this.signal.notify();
	}

	// ---- faults --------------------------------------------------------------------------

	/** Arms the next fault on `link`, unless one is armed on a live connection already. */
	private arm(link: Link): void {
		if (!this.enabled || link.dead || (this.armed && this.armed.link)) return;
		if (!this.armed) {
			if (this.next >= this.plan.length) return;
			const fault = this.plan[this.next]!;
			const a: Armed = { link: undefined, fault, bytesLeft: fault.bytes, timer: undefined, due: false };
			if (fault.bytes === 0) {
				a.timer = setTimeout(() => {
					a.timer = undefined;
					a.due = true;
					this.strike();
				}, fault.afterMs);
			}
			this.armed = a;
		}
		const a = this.armed;
		a.link = link;
		if (a.due) setImmediate(() => this.strike()); // its time came between connections
	}

	private disarm(): void {
		const a = this.armed;
		this.armed = undefined;
		if (a?.timer) clearTimeout(a.timer);
	}

	/** The armed fault strikes its connection now. */
	private strike(): void {
		const a = this.armed;
		const link = a?.link;
		if (!a || !link || link.dead) return;
		this.disarm();
		this.next++;
		const fault = a.fault;
		this.struck.push({ fault, at: performance.now() - this.started, connection: link.serial, up: link.up.forwarded, down: link.down.forwarded });
		if (fault.kind === "cut") this.kill(link, true);
		else if (fault.kind === "stall") {
			if (fault.direction !== "down") link.up.stalled = true;
			if (fault.direction !== "up") link.down.stalled = true;
			link.timers.push(setTimeout(() => {
				this.unstall(link);
				this.arm(link);
			}, fault.stallMs));
			if (link.up.stalled) link.up.from.pause();
			if (link.down.stalled) link.down.from.pause();
		}
		else {
			const leg = link.leg(fault.direction === "up" ? "up" : "down");
			leg.finished = true;
			leg.queue.length = 0;
			leg.from.resume(); // keep reading, to drop
			if (!leg.to.writableEnded) leg.to.end(); // FIN to the broker ("up") or to the client ("down")
			link.timers.push(setTimeout(() => this.kill(link), HALF_CLOSE_LIMIT));
		}
		this.signal.notify();
	}

	private unstall(link: Link): void {
		link.up.stalled = link.down.stalled = false;
		if (link.dead) return;
		this.pump(link, link.up);
		this.pump(link, link.down);
	}
}
