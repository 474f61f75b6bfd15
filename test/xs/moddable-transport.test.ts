// The Moddable transport (hosts/moddable/transport.ts) in the XS engine over stubs of the SDK's
// sockets (test/lib/xs/transport-workloads.ts): the bytes the socket gets, partial writes and
// onWritable, the TLS socket's options, reads, errors, and what a write allocates.

import * as assert from "node:assert/strict";
import { startTransportWorker } from "../lib/xs/transport-worker.js";
import { measure } from "../lib/xs-meter.js";
import type { XsWorker } from "../../hosts/xs/worker.js";

describe("the Moddable transport in the XS engine", function () {
	this.timeout(60_000);
	let worker: XsWorker;
	let cleanup: (() => void) | undefined;
	before(async () => {
		({ worker, cleanup } = await startTransportWorker());
		// A transport opened over a socket whose write behaves as the SDK's (room used up, bytes kept).
		await worker.evaluate(`
			globalThis.opened = (tls, room = 8192) => {
				const { Transport, CountingSocket, RecordingHandler } = transportRig;
				const transport = new Transport();
				const handler = new RecordingHandler();
				transport.open("127.0.0.1", 1883, tls, handler);
				const socket = CountingSocket.last;
				socket.write = socket.checkedWrite;
				socket.writable(room);
				return { transport, handler, socket };
			};
			globalThis.pattern = (length, seed) => {
				const bytes = new Uint8Array(length);
				for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) & 0xFF;
				return bytes;
			};
			globalThis.logged = (socket) => Array.from(socket.log.subarray(0, socket.logged));
		`);
	});
	after(async () => {
		await worker?.close();
		cleanup?.();
	});

	/** Runs `body` (a function body) inside XS; returns what it returns, through JSON. */
	async function run<T>(body: string): Promise<T> {
		const reply = await worker.evaluate(`new TextEncoder().encode(JSON.stringify((() => { ${body} })())).buffer`);
		return JSON.parse(reply.text) as T;
	}

	it("opens on the socket's first onWritable and writes nothing before", async () => {
		const r = await run<{ before: number; events: string[]; after: number; writes: number }>(`
			const { Transport, CountingSocket, RecordingHandler } = transportRig;
			const transport = new Transport();
			const handler = new RecordingHandler();
			transport.open("127.0.0.1", 1883, undefined, handler);
			const socket = CountingSocket.last;
			socket.write = socket.checkedWrite;
			const before = transport.write(pattern(10, 1), 0, 10);
			socket.writable(100);
			return { before, events: handler.events, after: transport.write(pattern(10, 1), 0, 10), writes: socket.writes };
		`);
		assert.deepEqual(r, { before: 0, events: ["open"], after: 10, writes: 1 });
	});

	it("hands the socket exactly the bytes asked for, in one write each: windows, whole buffers, the same place again", async () => {
		const r = await run<{ counts: number[]; writes: number; got: number[]; expected: number[] }>(`
			const { transport, socket } = opened();
			const source = pattern(300, 3);
			const whole = pattern(40, 9);
			const counts = [
				transport.write(source, 5, 94),
				transport.write(source, 5, 94),
				transport.write(whole, 0, 40),
				transport.write(source, 0, 16),
				transport.write(source, 284, 16),
			];
			// The same place after its bytes changed: the socket gets the bytes as they are now.
			source[5] = 0xEE;
			counts.push(transport.write(source, 5, 94));
			const original = pattern(300, 3);
			const expected = [
				...original.subarray(5, 99), ...original.subarray(5, 99), ...whole,
				...original.subarray(0, 16), ...original.subarray(284, 300), ...source.subarray(5, 99),
			];
			return { counts, writes: socket.writes, got: logged(socket), expected };
		`);
		assert.deepEqual(r.counts, [94, 94, 40, 16, 16, 94]);
		assert.equal(r.writes, 6);
		assert.deepEqual(r.got, r.expected);
	});

	it("writes from a view at an offset into its buffer", async () => {
		const r = await run<{ n: number; got: number[]; expected: number[] }>(`
			const { transport, socket } = opened();
			const backing = pattern(200, 5);
			const view = backing.subarray(50, 150);
			return { n: transport.write(view, 10, 30), got: logged(socket), expected: Array.from(backing.subarray(60, 90)) };
		`);
		assert.equal(r.n, 30);
		assert.deepEqual(r.got, r.expected);
	});

	it("takes only what the socket has room for; the rest after onWritable, in order", async () => {
		const r = await run<{ first: number; second: number; events: string[]; third: number; fourth: number; got: number[]; expected: number[] }>(`
			const { transport, handler, socket } = opened(undefined, 50);
			const source = pattern(94, 11);
			const first = transport.write(source, 0, 94);
			const second = transport.write(source, first, 94 - first);
			socket.writable(30);
			const third = transport.write(source, first, 94 - first);
			socket.writable(100);
			const fourth = transport.write(source, first + third, 94 - first - third);
			return { first, second, events: handler.events, third, fourth, got: logged(socket), expected: Array.from(source) };
		`);
		assert.deepEqual([r.first, r.second, r.third, r.fourth], [50, 0, 30, 14]);
		assert.deepEqual(r.events, ["open", "writable", "writable"]);
		assert.deepEqual(r.got, r.expected);
	});

	it("follows the room the socket reports after each write", async () => {
		const r = await run<{ counts: number[]; room: number }>(`
			const { transport, socket } = opened(undefined, 100);
			const source = pattern(100, 2);
			const counts = [transport.write(source, 0, 60), transport.write(source, 60, 30), transport.write(source, 90, 10), transport.write(source, 0, 1)];
			return { counts, room: socket.room };
		`);
		assert.deepEqual(r, { counts: [60, 30, 10, 0], room: 0 });
	});

	it("splits a write of more than 16 KB into socket writes of at most 16 KB", async () => {
		const r = await run<{ n: number; writes: number; same: boolean; partial: number }>(`
			const { transport, socket } = opened(undefined, 40000);
			const source = pattern(40000, 4);
			const n = transport.write(source, 100, 20000);
			const got = socket.log.subarray(0, socket.logged);
			let same = got.length === 20000;
			for (let i = 0; same && i < 20000; i++) same = got[i] === source[100 + i];
			socket.writable(17000);
			const partial = transport.write(source, 0, 40000);
			return { n, writes: socket.writes, same, partial };
		`);
		assert.deepEqual(r, { n: 20000, writes: 4, same: true, partial: 17000 });
	});

	it("reads into the caller's buffer at an offset", async () => {
		const r = await run<{ n: number; got: number[]; expected: number[]; events: string[]; more: number }>(`
			const { transport, handler, socket } = opened();
			const incoming = pattern(94, 6);
			socket.receive(incoming);
			const buffer = new Uint8Array(200);
			const n = transport.read(buffer, 7, 200 - 7);
			return { n, got: Array.from(buffer.subarray(7, 7 + 94)), expected: Array.from(incoming), events: handler.events, more: transport.read(buffer, 0, 10) };
		`);
		assert.deepEqual(r.got, r.expected);
		assert.deepEqual([r.n, r.more], [94, 0]);
		assert.deepEqual(r.events, ["open", "readable"]);
	});

	it("over TLS: the TLS socket gets the server name, verification and CA, and the writes", async () => {
		const r = await run<{ tls: boolean; host: string; verify: boolean; certificate: string; io: string; n: number; got: number[]; expected: number[] }>(`
			const { transport, socket } = opened({ ca: "ca.der", serverName: "broker.example" });
			const source = pattern(94, 8);
			const n = transport.write(source, 0, 94);
			return {
				tls: socket instanceof transportRig.CountingTlsSocket, host: socket.options.host,
				verify: socket.options.secure.verify, certificate: socket.options.secure.certificate.name,
				io: typeof socket.options.TCP.io, n, got: logged(socket), expected: Array.from(source),
			};
		`);
		const { got, expected, ...rest } = r;
		assert.deepEqual(rest, { tls: true, host: "broker.example", verify: true, certificate: "ca.der", io: "function", n: 94 });
		assert.deepEqual(got, expected);
	});

	it("reports an error as a lost connection once open, and writes nothing after close", async () => {
		const r = await run<{ events: string[]; refused: string[]; after: number; closed: boolean }>(`
			const { transport, handler, socket } = opened();
			socket.error();
			const after = transport.write(pattern(10, 1), 0, 10);
			const { Transport, CountingSocket, RecordingHandler } = transportRig;
			const early = new Transport();
			const refused = new RecordingHandler();
			early.open("127.0.0.1", 1883, undefined, refused);
			CountingSocket.last.error();
			return { events: handler.events, refused: refused.events, after, closed: socket.closed };
		`);
		assert.deepEqual(r, { events: ["open", "close CONNECTION_LOST"], refused: ["close CONNECTION_REFUSED"], after: 0, closed: true });
	});

	for (const [name, label, slots] of [
		["write1000", "a write of the place written last allocates nothing", 0],
		["writeWhole", "a write of a whole buffer allocates nothing", 0],
		["writeMoving1000", "a write of another place allocates one view (4 slots)", 4],
		["clientPublishQos0", "a client publishing QoS 0 over it allocates nothing", 0],
		["clientPublishQos1", "a client publishing QoS 1 over it, PUBACK read back, allocates nothing", 0],
	] as const) {
		it(label, async () => {
			const f = await measure(worker, name, 40);
			assert.equal(f.allocatedSlots, 40 * slots, "heap slots allocated over 40");
			assert.equal(f.heapGrowth, 0, "live heap growth after gc()");
		});
	}
});
