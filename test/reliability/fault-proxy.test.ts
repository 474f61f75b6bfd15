// The proxy itself, over plain TCP: a seed gives the same plan every time, each fault does what it
// says at the byte or the moment it says (cut, one-way and two-way stalls, half-closes each way), and
// the same by hand (stall, resume, cut).

import * as assert from "node:assert/strict";
import * as net from "node:net";
import { HOST } from "../lib/broker.js";
import { planFaults, Proxy } from "../lib/proxy.js";
import type { Fault } from "../lib/proxy.js";
import { Signal, sleep, waitFor } from "../lib/signal.js";

/** One end of a connection, recording what it receives and how it ends. */
class End {
	received = "";
	ended = false;
	closed = false;
	readonly signal = new Signal();
	constructor(readonly socket: net.Socket) {
		socket.setEncoding("latin1");
		socket.on("data", (text: string) => {
			this.received += text;
			this.signal.notify();
		});
		socket.on("end", () => {
			this.ended = true;
			this.signal.notify();
		});
		socket.on("error", () => {
			// a cut may reset the connection: "close" follows
		});
		socket.on("close", () => {
			this.closed = true;
			this.signal.notify();
		});
	}
	until(condition: () => boolean, what: string): Promise<void> {
		return this.signal.until(condition, 3000, what);
	}
}

function fault(kind: Fault["kind"], fields: Partial<Fault>): Fault {
	return { index: 0, kind, direction: "both", bytes: 0, on: "up", afterMs: 0, stallMs: 0, ...fields };
}

describe("reliability: the fault proxy", () => {
	let server: net.Server;
	let serverEnds: End[] = [];
	let proxy: Proxy | undefined;
	const clients: net.Socket[] = [];

	before(async () => {
		// The "broker": keeps every connection, with allowHalfOpen so that a FIN from the proxy shows alone.
		server = net.createServer({ allowHalfOpen: true }, (socket) => {
			serverEnds.push(new End(socket));
		});
		await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
	});

	afterEach(async () => {
		for (const c of clients.splice(0)) c.destroy();
		for (const e of serverEnds) e.socket.destroy();
		serverEnds = [];
		await proxy?.close();
		proxy = undefined;
	});

	after(async () => {
		await new Promise<void>((resolve) => server.close(() => resolve()));
	});

	async function start(plan: Fault[]): Promise<{ client: End; server: End }> {
		proxy = await Proxy.start((server.address() as net.AddressInfo).port, { plan });
		proxy.inject();
		const socket = net.connect({ host: HOST, port: proxy.port });
		clients.push(socket);
		const client = new End(socket);
		await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
		await waitFor(() => serverEnds.length > 0, 3000, "the connection through the proxy", 5);
		return { client, server: serverEnds.at(-1)! };
	}

	it("a seed gives the same plan every time, with the kinds and counts asked for; another seed another plan", () => {
		const options = { cuts: 20, stalls: 5, halfCloses: 5, maxBytes: 1000 };
		const a = planFaults({ seed: 12345, ...options });
		const b = planFaults({ seed: 12345, ...options });
		const c = planFaults({ seed: 54321, ...options });
		assert.deepEqual(a, b);
		assert.notDeepEqual(a, c);
		assert.equal(a.filter((f) => f.kind === "cut").length, 20);
		assert.equal(a.filter((f) => f.kind === "stall").length, 5);
		assert.equal(a.filter((f) => f.kind === "half-close").length, 5);
		assert.ok(a.every((f, i) => f.index === i && f.bytes >= 0 && f.bytes <= 1000 && (f.bytes > 0 || f.afterMs >= 0)));
		assert.ok(a.some((f) => f.bytes === 0) && a.some((f) => f.bytes > 0), "both byte and time triggers");
	});

	it("cut at byte 10 of a 25-byte write: 10 bytes get through, then both sides are cut", async () => {
		const { client, server } = await start([fault("cut", { bytes: 10, on: "up" })]);
		client.socket.write("0123456789abcdefghijklmno");
		await client.until(() => client.closed, "the client's side cut");
		// A reset; Node sends a FIN instead when the socket had just been written to, as here.
		await server.until(() => server.ended || server.closed, "the server's side cut");
		assert.equal(server.received, "0123456789");
		assert.equal(proxy!.active, 0, "the proxy holds no connection");
		assert.equal(proxy!.counts().cuts, 1);
		assert.equal(proxy!.remaining, 0);
	});

	it("a timed cut strikes its moment after the connection came, with no traffic at all", async () => {
		const t0 = performance.now();
		const { client } = await start([fault("cut", { afterMs: 150 })]);
		await client.until(() => client.closed, "the cut");
		const took = performance.now() - t0;
		assert.ok(took >= 140 && took < 1000, `cut after ${Math.round(took)} ms`);
	});

	it("a byte count carries over: a connection that ends first hands the rest to the next one", async () => {
		const { client, server } = await start([fault("cut", { bytes: 8, on: "up" })]);
		client.socket.write("12345");
		await server.until(() => server.received === "12345", "5 bytes");
		client.socket.destroy();
		await server.until(() => server.ended, "the client's end passed on");
		server.socket.end(); // as a broker does
		await proxy!.signal.until(() => proxy!.active === 0, 3000, "the first connection gone");
		const socket = net.connect({ host: HOST, port: proxy!.port });
		clients.push(socket);
		const second = new End(socket);
		await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
		socket.write("abcdef");
		await second.until(() => second.closed, "the cut on the second connection");
		await waitFor(() => serverEnds.length === 2 && (serverEnds[1]!.ended || serverEnds[1]!.closed), 3000, "the cut at the server's side");
		assert.equal(serverEnds[1]!.received, "abc", "3 more bytes, then the cut");
	});

	it("a one-way stall holds that direction only, for its time, then lets the held bytes through in order", async () => {
		const { client, server } = await start([fault("stall", { direction: "up", bytes: 4, on: "up", stallMs: 300 })]);
		client.socket.write("abcd");
		await server.until(() => server.received === "abcd", "the bytes before the stall");
		const t0 = performance.now();
		client.socket.write("efgh");
		server.socket.write("down still flows");
		await client.until(() => client.received === "down still flows", "the other direction during the stall");
		await sleep(100); // a window for what must not come: bytes up during the stall
		assert.equal(server.received, "abcd", "nothing up during the stall");
		await server.until(() => server.received === "abcdefgh", "the held bytes after the stall");
		const held = performance.now() - t0;
		assert.ok(held >= 200, `held ${Math.round(held)} ms (of the 300 ms stall, counted from a little after it began)`);
		assert.ok(!client.closed && !server.closed, "a stall closes nothing");
		assert.equal(proxy!.counts().stallsUp, 1);
	});

	it("a two-way stall holds both directions", async () => {
		const { client, server } = await start([fault("stall", { direction: "both", bytes: 1, on: "down", stallMs: 250 })]);
		server.socket.write("x");
		await client.until(() => client.received === "x", "the byte that triggers it");
		client.socket.write("up");
		server.socket.write("down");
		await sleep(150); // a window for what must not come: bytes either way during the stall
		assert.equal(server.received, "", "up held");
		assert.equal(client.received, "x", "down held");
		await server.until(() => server.received === "up", "up after the stall");
		await client.until(() => client.received === "xdown", "down after the stall");
	});

	it("half-close up: the server gets the first bytes and a FIN, the client's socket stays open until the server answers it", async () => {
		const { client, server } = await start([fault("half-close", { direction: "up", bytes: 4, on: "up" })]);
		client.socket.write("12345678");
		await server.until(() => server.ended, "FIN at the server");
		assert.equal(server.received, "1234");
		assert.equal(client.closed, false, "not a cut: the client's side is still open");
		server.socket.write("still talking");
		await client.until(() => client.received === "still talking", "the server's bytes still reach the client");
		server.socket.end();
		await client.until(() => client.ended, "the server's own FIN passed on");
		assert.equal(proxy!.counts().halfClosesUp, 1);
	});

	it("half-close down: the client gets the first bytes and a FIN; its answering FIN is passed on to the server", async () => {
		const { client, server } = await start([fault("half-close", { direction: "down", bytes: 3, on: "down" })]);
		server.socket.write("abcdef");
		await client.until(() => client.ended, "FIN at the client");
		assert.equal(client.received, "abc");
		// A Node socket without allowHalfOpen ends its side in turn: the server sees that FIN.
		await server.until(() => server.ended, "the client's FIN at the server");
		assert.equal(proxy!.counts().halfClosesDown, 1);
	});

	it("faults strike only after inject(), and none after calm() (a stall in progress ends)", async () => {
		proxy = await Proxy.start((server.address() as net.AddressInfo).port, { plan: [fault("stall", { direction: "both", bytes: 1, on: "up", stallMs: 60_000 }), fault("cut", { bytes: 1, on: "up" })] });
		const socket = net.connect({ host: HOST, port: proxy.port });
		clients.push(socket);
		const client = new End(socket);
		await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
		socket.write("before");
		await waitFor(() => serverEnds.at(-1)?.received === "before", 3000, "bytes before inject()", 5);
		proxy.inject();
		socket.write("!");
		await waitFor(() => proxy!.struck.length === 1, 3000, "the stall", 5);
		socket.write("?");
		proxy.calm();
		await waitFor(() => serverEnds.at(-1)?.received === "before!?", 3000, "the held bytes once calm", 5);
		await sleep(50); // a window for what must not come: the cut after calm()
		assert.equal(proxy.struck.length, 1, "the cut never came");
		assert.equal(client.closed, false);
	});

	it("by hand, without a plan: stall() holds a way (new connections too) until resume(), cut() ends every connection", async () => {
		const { client, server } = await start([]);
		proxy!.stall("up");
		client.socket.write("up");
		server.socket.write("down");
		await client.until(() => client.received === "down", "the other way during the stall");
		const late = net.connect({ host: HOST, port: proxy!.port });
		clients.push(late);
		const second = new End(late);
		await new Promise<void>((resolve) => late.once("connect", () => resolve()));
		late.write("late");
		await waitFor(() => serverEnds.length === 2, 3000, "the second connection through the proxy", 5);
		await sleep(100); // a window for what must not come: bytes up during the stall
		assert.equal(server.received, "", "nothing up on the first connection");
		assert.equal(serverEnds[1]!.received, "", "nothing up on the connection that came during the stall");
		proxy!.resume();
		await server.until(() => server.received === "up", "the held bytes after resume()");
		await serverEnds[1]!.until(() => serverEnds[1]!.received === "late", "the second connection's held bytes");
		proxy!.cut();
		await client.until(() => client.closed, "the first connection cut");
		await second.until(() => second.closed, "the second connection cut");
		await proxy!.signal.until(() => proxy!.active === 0, 3000, "no connection left");
		assert.equal(proxy!.accepted, 2);
		assert.equal(proxy!.struck.length, 0, "cut() is not a fault of the plan");
	});
});
