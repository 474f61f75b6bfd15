// The firmware in the Moddable SDK's Linux simulator: built with mcconfig into a temp dir from a manifest
// that includes the project's, run in mcsim under xvfb-run; each in its own process group, ended by it.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, join } from "node:path";
import { findTool } from "./broker.js";
import { findSdk, linuxTools, ROOT } from "./moddable.js";
import type { Sdk } from "./moddable.js";

/** Output kept per process. */
const OUTPUT_LIMIT = 1 << 20;

export interface Simulator {
	sdk: Sdk;
	mcconfig: string;
	mcsim: string;
	xvfbRun: string;
	stdbuf: string | undefined;
}

/** The SDK and tools to build and run the simulator, or why this machine has none. */
export function findSimulator(): { simulator: Simulator; reason?: undefined } | { simulator?: undefined; reason: string } {
	const lookup = findSdk();
	if (!lookup.sdk) return { reason: lookup.reason };
	const tools = linuxTools(lookup.sdk);
	if (tools.reason !== undefined) return { reason: tools.reason };
	const xvfbRun = findTool("xvfb-run");
	if (!xvfbRun) return { reason: "xvfb-run is not installed (the simulator needs an X display)" };
	return { simulator: { sdk: lookup.sdk, mcconfig: tools.mcconfig, mcsim: tools.mcsim, xvfbRun, stdbuf: findTool("stdbuf") } };
}

/** Process groups started here, killed when the test process exits whatever happened. */
const groups = new Set<number>();
process.on("exit", () => {
	groups.forEach((pgid) => {
		try {
			process.kill(-pgid, "SIGKILL");
		}
		catch {
			// already gone
		}
	});
});

/** Members of process group `pgid` as [pid, command name], from /proc. */
function members(pgid: number): Array<[number, string]> {
	const found: Array<[number, string]> = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${entry}/stat`, "utf8");
		}
		catch {
			continue;
		}
		const close = stat.lastIndexOf(")");
		const fields = stat.slice(close + 2).split(" ");
		if (Number(fields[2]) === pgid && fields[0] !== "Z") found.push([Number(entry), stat.slice(stat.indexOf("(") + 1, close)]);
	}
	return found;
}

async function waitFor(condition: () => boolean, timeout: number): Promise<boolean> {
	const deadline = Date.now() + timeout;
	while (!condition()) {
		if (Date.now() > deadline) return false;
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
	return true;
}

/** A command in its own process group, its output collected. */
export class Group {
	private text = "";
	private done = false;
	readonly exited: Promise<void>;
	/** Called with each chunk of output. */
	onOutput: (() => void) | undefined;

	constructor(readonly child: ChildProcess) {
		groups.add(child.pid!);
		const collect = (chunk: Buffer): void => {
			if (this.text.length < OUTPUT_LIMIT) this.text += chunk.toString("utf8");
			this.onOutput?.();
		};
		child.stdout?.on("data", collect);
		child.stderr?.on("data", collect);
		this.exited = new Promise((resolve) => {
			child.once("close", () => resolve());
			child.once("error", (error) => {
				this.text += `\n${error.message}\n`;
				resolve();
			});
		});
		void this.exited.then(() => {
			this.done = true;
			this.onOutput?.();
		});
	}

	static spawn(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Group {
		return new Group(spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] }));
	}

	get running(): boolean {
		return !this.done;
	}

	output(): string {
		return this.text;
	}

	/**
	 * Sends SIGTERM to the members called `first` (the simulator), lets the rest end on their own
	 * for a moment (xvfb-run stops its X server and removes its lock), then SIGKILLs the group.
	 */
	async end(first: string[] = []): Promise<void> {
		const pgid = this.child.pid!;
		if (!groups.has(pgid)) return;
		for (const [pid, name] of members(pgid)) {
			if (!first.includes(name)) continue;
			try {
				process.kill(pid, "SIGTERM");
			}
			catch {
				// gone already
			}
		}
		await waitFor(() => members(pgid).length === 0, 3000);
		try {
			process.kill(-pgid, "SIGKILL");
		}
		catch {
			// the group is gone
		}
		await waitFor(() => members(pgid).length === 0, 3000);
		await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
		groups.delete(pgid);
	}
}

/** The first file called `name` under `dir`, or undefined. */
function findFile(dir: string, name: string): string | undefined {
	if (!existsSync(dir)) return undefined;
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isFile() && entry.name === name) return path;
		if (entry.isDirectory()) {
			const found = findFile(path, name);
			if (found) return found;
		}
	}
	return undefined;
}

/** Runs `mcconfig -m -p lin` on `manifest` into `dir`; returns the simulator library (mc.so). */
export async function buildForSimulator(simulator: Simulator, dir: string, manifest: string, settings: Record<string, string | number | boolean>, timeout: number): Promise<string> {
	const bin = join(simulator.sdk.root, "build", "bin", "lin", "release");
	const env: NodeJS.ProcessEnv = {
		...process.env,
		MODDABLE: simulator.sdk.root,
		PATH: [join(ROOT, "node_modules", ".bin"), bin, process.env.PATH ?? ""].join(delimiter),
		MAKEFLAGS: process.env.MAKEFLAGS ?? `-j${availableParallelism()}`,
	};
	const args = ["-m", "-p", "lin", "-o", dir, manifest, ...Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`)];
	const build = Group.spawn(simulator.mcconfig, args, { cwd: dir, env });
	const timer = setTimeout(() => void build.end(), timeout);
	await build.exited;
	clearTimeout(timer);
	await build.end();
	const library = findFile(join(dir, "bin"), "mc.so");
	if (build.child.exitCode !== 0 || !library)
		throw new Error(`mcconfig failed (exit ${build.child.exitCode ?? build.child.signalCode}):\n${build.output().trimEnd().split("\n").slice(-30).join("\n")}`);
	return library;
}

/** Starts `library` in mcsim under xvfb-run, in `cwd`. */
export function runInSimulator(simulator: Simulator, library: string, cwd: string): Group {
	const command = simulator.stdbuf ? [simulator.stdbuf, "-o0", simulator.mcsim, library] : [simulator.mcsim, library];
	return Group.spawn(simulator.xvfbRun, ["-a", ...command], { cwd });
}
