// A TCP proxy on 127.0.0.1 in front of a broker that a test steers: cut() drops every connection,
// stall() stops forwarding without closing (so only a keepalive can tell), resume() lets bytes flow.

import * as net from "node:net";
import { HOST } from "./broker.js";
import { Signal } from "./signal.js";

/** "up": client to broker; "down": broker to client. */
export type Direction = "both" | "up" | "down";

/** One side of a connection: the bytes it read that wait for the other side. */
class Leg {
	readonly held: Buffer[] = [];
	constructor(readonly from: net.Socket, readonly to: net.Socket) {}
}

class Pair {
	/** The upstream socket is connected; until then client bytes are held. */
	upstreamOpen = false;
	constructor(readonly up: Leg, readonly down: Leg) {}

	destroy(): void {
		this.up.from.destroy();
		this.up.to.destroy();
	}
}

export class Proxy {
	readonly host = HOST;
	/** Connections accepted since start. */
	accepted = 0;
	/** Something changed (a connection came or went): for waiting with `signal.until`. */
	readonly signal = new Signal();
	private readonly pairs = new Set<Pair>();
	private upStalled = false;
	private downStalled = false;
	private closed = false;

	private constructor(private readonly server: net.Server, readonly port: number, private readonly target: number, private readonly targetHost: string) {}

	/** Listens on a random 127.0.0.1 port and forwards to `targetHost:targetPort`. */
	static async start(targetPort: number, targetHost: string = HOST, maxConnections = 32): Promise<Proxy> {
		let proxy: Proxy | undefined;
		const server = net.createServer((socket) => proxy?.accept(socket));
		server.maxConnections = maxConnections;
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(0, HOST, () => resolve());
		});
		proxy = new Proxy(server, (server.address() as net.AddressInfo).port, targetPort, targetHost);
		return proxy;
	}

	/** Connections open now. */
	get active(): number {
		return this.pairs.size;
	}

	/** Destroys both sides of every connection now (a network failure, no FIN handshake to wait on). */
	cut(): void {
		this.pairs.forEach((pair) => pair.destroy());
	}

	/**
	 * Stops forwarding in `direction` without closing anything: bytes stay in the proxy and the
	 * kernel's buffers. New connections are accepted but stalled likewise. A side that closes is
	 * still passed on (the other side is destroyed).
	 */
	stall(direction: Direction = "both"): void {
		if (direction !== "down") this.upStalled = true;
		if (direction !== "up") this.downStalled = true;
		this.pairs.forEach((pair) => {
			if (this.upStalled) pair.up.from.pause();
			if (this.downStalled) pair.down.from.pause();
		});
	}

	/** Forwards again, held bytes first. */
	resume(): void {
		this.upStalled = this.downStalled = false;
		this.pairs.forEach((pair) => {
			if (pair.upstreamOpen) this.release(pair.up);
			this.release(pair.down);
		});
	}

	/** Closes the listener and every connection. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.cut();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	private accept(client: net.Socket): void {
		if (this.closed) {
			client.destroy();
			return;
		}
		this.accepted++;
		const upstream = net.connect({ host: this.targetHost, port: this.target });
		const pair = new Pair(new Leg(client, upstream), new Leg(upstream, client));
		this.pairs.add(pair);
		client.setNoDelay(true);
		upstream.setNoDelay(true);
		upstream.once("connect", () => {
			pair.upstreamOpen = true;
			if (!this.upStalled) this.release(pair.up);
		});
		this.wire(pair, pair.up, true);
		this.wire(pair, pair.down, false);
		this.signal.notify();
	}

	private wire(pair: Pair, leg: Leg, isUp: boolean): void {
		leg.from.on("data", (chunk: Buffer) => {
			const stalled = isUp ? this.upStalled || !pair.upstreamOpen : this.downStalled;
			if (stalled || leg.held.length > 0) {
				leg.held.push(chunk);
				leg.from.pause();
				return;
			}
			if (!leg.to.write(chunk)) {
				leg.from.pause();
				leg.to.once("drain", () => {
					if (!(isUp ? this.upStalled : this.downStalled)) leg.from.resume();
				});
			}
		});
		leg.from.on("error", () => {
			// "close" follows; the other side is destroyed there.
		});
		leg.from.once("close", () => {
			pair.destroy();
			if (this.pairs.delete(pair)) this.signal.notify();
		});
	}

	private release(leg: Leg): void {
		while (leg.held.length > 0 && !leg.to.destroyed) leg.to.write(leg.held.shift()!);
		leg.held.length = 0;
		if (!leg.from.destroyed) leg.from.resume();
	}
}
