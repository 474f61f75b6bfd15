// Node side of the XS engine from @agoric/xsnap: spawns its worker and speaks its netstring
// protocol (evaluate, import, queries both ways) with the meter's figures on every reply.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { Readable, Writable } from "node:stream";
import { ANSWER_FAILED, ANSWER_OK } from "./protocol.js";

/** What the XS meter reports after each crank. */
export interface Meter {
	/** Deterministic count of XS operations in the crank. */
	compute: number;
	/** Heap slots in use at the end of the crank (call gc() last to count only live ones). */
	currentHeapCount: number;
	/** Bytes of chunk heap the machine has allocated from the system. */
	allocate: number;
}

export interface Reply {
	/** The crank's result when it was an ArrayBuffer (as text), else "". */
	text: string;
	meter: Meter;
}

export interface WorkerOptions {
	/** Answers `issueCommand(ArrayBuffer)` from inside XS, synchronously for XS (prefixed ANSWER_OK; a throw is sent as ANSWER_FAILED and its message). */
	onQuery?: (request: Uint8Array) => Uint8Array | string;
	/** Receives each line XS prints (default: ignored; XS stdout is piped). */
	onPrint?: (line: string) => void;
	/** Receives XS stderr (default: ignored). */
	onStderr?: (text: string) => void;
	/** Meter limit per crank (default 2e9, the most xsnap takes: its limit is a 32-bit count). */
	meteringLimit?: number;
	/** Working directory of the worker: bare module specifiers resolve from it. */
	cwd?: string;
}

const require = createRequire(import.meta.url);

/** The path of the xsnap-worker binary built by @agoric/xsnap at install. */
export function xsnapBinary(): string {
	const root = path.dirname(require.resolve("@agoric/xsnap/package.json"));
	const platform = process.platform === "darwin" ? "mac" : "lin";
	return path.join(root, "xsnap-native", "xsnap", "build", "bin", platform, "release", "xsnap-worker");
}

export class XsWorker {
	private readonly process: ChildProcess;
	private readonly toXs: Writable;
	private pending: Buffer = Buffer.alloc(0);
	private readonly waiting: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> = [];
	private exited: Error | undefined;
	private stdout = "";
	private last: Promise<unknown> = Promise.resolve();

	constructor(private readonly options: WorkerOptions = {}) {
		const args = ["xs-mqtt", "-l", String(options.meteringLimit ?? 2e9)];
		this.process = spawn(xsnapBinary(), args, {
			stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
			cwd: options.cwd,
			// Its own process group: a terminal's Ctrl-C goes to the parent, which stops it in order.
			// (If the parent dies, the worker's command pipe closes and it exits.)
			detached: true,
		});
		this.toXs = this.process.stdio[3] as Writable;
		const fromXs = this.process.stdio[4] as Readable;
		// A worker that is killed (or dies) closes its pipes: the exit handler reports it.
		this.toXs.on("error", () => {});
		fromXs.on("error", () => {});
		fromXs.on("data", (chunk: Buffer) => this.receive(chunk));
		this.process.stdout!.setEncoding("utf8");
		this.process.stdout!.on("data", (text: string) => {
			this.stdout += text;
			let nl: number;
			while ((nl = this.stdout.indexOf("\n")) >= 0) {
				const line = this.stdout.slice(0, nl);
				this.stdout = this.stdout.slice(nl + 1);
				options.onPrint?.(line);
			}
		});
		this.process.stderr!.setEncoding("utf8");
		this.process.stderr!.on("data", (text: string) => options.onStderr?.(text));
		this.process.on("exit", (code, signal) => {
			this.exited = new Error(`the XS worker exited (${signal ?? `code ${code}`})`);
			for (const w of this.waiting.splice(0)) w.reject(this.exited);
		});
		this.process.on("error", (error) => {
			this.exited = error;
			for (const w of this.waiting.splice(0)) w.reject(error);
		});
	}

	/** Evaluates a script in the global scope; rejects with the XS exception's text. */
	evaluate(code: string): Promise<Reply> {
		return this.command("e" + code);
	}

	/**
	 * Imports an ES module file. XS reports a module's evaluation error only as a log line, so
	 * callers that need success must check a marker the module sets.
	 */
	importModule(file: string): Promise<Reply> {
		return this.command("m" + path.resolve(file));
	}

	/** Calls the global `handleCommand(ArrayBuffer)` inside XS with `message`. */
	send(message: string | Uint8Array): Promise<Reply> {
		const body = typeof message === "string" ? Buffer.from(message) : Buffer.from(message);
		return this.commandBytes(Buffer.concat([Buffer.from("?"), body]));
	}

	async close(): Promise<void> {
		if (this.exited) return;
		const done = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
		this.write(Buffer.from("q"));
		this.toXs.end();
		const timer = setTimeout(() => this.process.kill("SIGKILL"), 2000);
		await done;
		clearTimeout(timer);
	}

	kill(): void {
		if (this.exited) return;
		this.exited = new Error("the XS worker was killed");
		for (const w of this.waiting.splice(0)) w.reject(this.exited);
		this.process.kill("SIGKILL");
	}

	private command(text: string): Promise<Reply> {
		return this.commandBytes(Buffer.from(text));
	}

	/**
	 * Commands go one at a time: XS reads its channel only between cranks, and a command written
	 * while a crank waits for the answer to one of its own queries would be taken for that answer.
	 */
	private commandBytes(bytes: Buffer): Promise<Reply> {
		const run = (): Promise<Reply> => {
			if (this.exited) return Promise.reject(this.exited);
			return new Promise<Reply>((resolve, reject) => {
				this.waiting.push({ resolve, reject });
				this.write(bytes);
			});
		};
		const result = this.last.then(run, run);
		this.last = result.catch(() => undefined);
		return result;
	}

	private write(body: Buffer): void {
		if (this.exited) return;
		this.toXs.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(",")]));
	}

	private receive(chunk: Buffer): void {
		this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
		for (;;) {
			const colon = this.pending.indexOf(0x3A);
			if (colon < 0) return;
			const length = Number(this.pending.subarray(0, colon).toString());
			if (this.pending.length < colon + 1 + length + 1) return;
			const message = this.pending.subarray(colon + 1, colon + 1 + length);
			this.pending = this.pending.subarray(colon + 2 + length);
			this.dispatch(Buffer.from(message));
		}
	}

	private dispatch(message: Buffer): void {
		const kind = message[0];
		if (kind === 0x3F) { // '?': a query from XS; it waits for our answer
			let answer: Uint8Array | string;
			try {
				answer = this.options.onQuery ? this.options.onQuery(message.subarray(1)) : "";
			}
			catch (error) {
				// The first byte says which: XS must not take a failure's reason for the bytes it asked for.
				this.write(Buffer.concat([Buffer.from("/"), Buffer.of(ANSWER_FAILED), Buffer.from((error as Error).message)]));
				return;
			}
			this.write(Buffer.concat([Buffer.from("/"), Buffer.of(ANSWER_OK), Buffer.from(typeof answer === "string" ? Buffer.from(answer) : answer)]));
			return;
		}
		const waiter = this.waiting.shift();
		if (!waiter) return;
		if (kind === 0x2E) { // '.': success, with meter data before \x01
			const separator = message.indexOf(1);
			const meterText = separator > 0 ? message.subarray(1, separator).toString() : "{}";
			const parsed = JSON.parse(meterText) as Partial<Meter>;
			waiter.resolve({
				text: message.subarray(separator > 0 ? separator + 1 : 1).toString(),
				meter: { compute: parsed.compute ?? 0, currentHeapCount: parsed.currentHeapCount ?? 0, allocate: parsed.allocate ?? 0 },
			});
		}
		else
			waiter.reject(new Error(`XS: ${message.subarray(1).toString() || "uncaught exception"}`));
	}
}
