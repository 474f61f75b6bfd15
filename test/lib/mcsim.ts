// The firmware in the Moddable SDK's Linux simulator: built with mcconfig into a temp dir (from the project's
// manifest or one including it), run in mcsim under xvfb-run; each in its own process group, ended by it.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { findTool } from "./broker.js";
import type { FirmwareConfig, FirmwareLauncher, RunningFirmware } from "./firmware-scenario.js";
import { findSdk, linuxTools, ROOT } from "./moddable.js";
import type { Sdk } from "./moddable.js";

/** Output kept per process (the simulator traces a line per message). */
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
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
		const close = stat.lastIndexOf(")");
		const fields = stat.slice(close + 2).split(" ");
		if (Number(fields[2]) === pgid && fields[0] !== "Z") found.push([Number(entry), stat.slice(stat.indexOf("(") + 1, close)]);
	}
	return found;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	}
	catch {
		// the group is gone
	}
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
	 * Sends `signal` to the members called `first` (the simulator), or to the whole group when none is,
	 * lets the rest end on their own for a moment (xvfb-run stops its X server and removes its lock),
	 * then SIGKILLs the group; throws if any member outlives that. Once ended, a no-op.
	 */
	async end(first: string[] = [], signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
		const pgid = this.child.pid!;
		if (!groups.has(pgid)) return;
		const targets = members(pgid).filter(([, name]) => first.includes(name));
		for (const [pid] of targets) {
			try {
				process.kill(pid, signal);
			}
			catch {
				// gone already
			}
		}
		if (targets.length === 0) signalGroup(pgid, signal);
		await waitFor(() => members(pgid).length === 0, 3000);
		signalGroup(pgid, "SIGKILL");
		const gone = await waitFor(() => members(pgid).length === 0, 3000);
		await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
		if (!gone) throw new Error(`processes of group ${pgid} outlived SIGKILL: ${JSON.stringify(members(pgid))}`);
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

/**
 * Runs `mcconfig -m -p lin` on `manifest` into `dir` with `settings` (manifest config keys); returns the
 * simulator library (mc.so). `started` is told of the build's group, for an owner that may end it early.
 */
export async function buildForSimulator(
	simulator: Simulator, dir: string, manifest: string, settings: Record<string, string | number | boolean>,
	timeout: number, started?: (build: Group) => void,
): Promise<string> {
	const bin = join(simulator.sdk.root, "build", "bin", "lin", "release");
	const env: NodeJS.ProcessEnv = {
		...process.env,
		MODDABLE: simulator.sdk.root,
		PATH: [join(ROOT, "node_modules", ".bin"), bin, process.env.PATH ?? ""].join(delimiter),
		MAKEFLAGS: process.env.MAKEFLAGS ?? `-j${availableParallelism()}`,
	};
	// A key left undefined keeps the manifest's default (not the text "undefined").
	const given = Object.entries(settings).filter(([, v]) => v !== undefined);
	const args = ["-m", "-p", "lin", "-o", dir, manifest, ...given.map(([k, v]) => `${k}=${String(v)}`)];
	const build = Group.spawn(simulator.mcconfig, args, { cwd: dir, env });
	started?.(build);
	const timer = setTimeout(() => {
		build.end([], "SIGKILL").catch((error: Error) => process.stderr.write(`ending the timed-out build: ${error.message}\n`));
	}, timeout);
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

/** The project's firmware for the device scenario: built with its config into a temp dir, run in mcsim. */
export class SimulatorLauncher implements FirmwareLauncher {
	readonly name = "the Moddable simulator (mcsim, headless)";
	private readonly active = new Set<Group>();
	private readonly dirs = new Set<string>();

	constructor(private readonly simulator: Simulator, private readonly buildTimeout: number) {}

	async start(config: FirmwareConfig): Promise<RunningFirmware> {
		const dir = mkdtempSync(join(tmpdir(), "xs-mqtt-mcsim-"));
		this.dirs.add(dir);
		const { sdk } = this.simulator;
		const started = performance.now();
		const library = await buildForSimulator(this.simulator, dir, join(ROOT, "manifest.json"), { ...config }, this.buildTimeout, (build) => this.active.add(build));
		process.stdout.write(`    mcconfig -m -p lin (SDK ${sdk.version}, ${sdk.root}): built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
		const sim = runInSimulator(this.simulator, library, dir);
		this.active.add(sim);
		return {
			output: () => sim.output(),
			kill: () => sim.end(["mcsim"], "SIGKILL"),
			stop: async () => {
				await sim.end(["mcsim"]);
				rmSync(dir, { recursive: true, force: true });
			},
		};
	}

	/** Ends whatever is still running (a build a timed-out hook left behind) and removes the temp dirs. */
	async dispose(): Promise<void> {
		await Promise.all([...this.active].map((group) => group.end(["mcsim"], "SIGKILL")));
		this.active.clear();
		for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
		this.dirs.clear();
	}
}
