// Finding a Moddable SDK for the firmware tests and the benchmarks ($MODDABLE, else
// ~/.local/share/moddable), and the project's own paths and tools; a test with no SDK skips and says why.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (this file runs as build/test/lib/moddable.js). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");

/** The project's TypeScript compiler. */
export const TSC = join(ROOT, "node_modules", ".bin", "tsc");

export interface Sdk {
	/** The SDK's root directory (what MODDABLE points at). */
	readonly root: string;
	/** "8.2.3", from tools/VERSION ("unknown" when absent). */
	readonly version: string;
	/** How it was found: "$MODDABLE" or "~/.local/share/moddable". */
	readonly via: string;
	/** The SDK's TypeScript declarations (typings/). */
	readonly typings: string;
	/** The XS engine's globals (xs/includes/xs.d.ts). */
	readonly xsGlobals: string;
	/** The SDK's own MQTT client (modules/network/mqtt/mqtt.js), or undefined when this SDK has none. */
	readonly mqtt: string | undefined;
}

export type SdkLookup = { sdk: Sdk; reason?: undefined } | { sdk?: undefined; reason: string };

/** Why `root` is not an SDK whose typings can be used, or undefined when it is one. */
function notAnSdk(root: string): string | undefined {
	if (!existsSync(root)) return `${root} does not exist`;
	if (!existsSync(join(root, "typings"))) return `${root} has no typings/`;
	if (!existsSync(join(root, "xs", "includes", "xs.d.ts"))) return `${root} has no xs/includes/xs.d.ts`;
	return undefined;
}

function describeSdk(root: string, via: string): Sdk {
	let version = "unknown";
	try {
		version = readFileSync(join(root, "tools", "VERSION"), "utf8").trim() || version;
	}
	catch {
		// an SDK checkout without tools/VERSION
	}
	const mqtt = join(root, "modules", "network", "mqtt", "mqtt.js");
	return { root, version, via, typings: join(root, "typings"), xsGlobals: join(root, "xs", "includes", "xs.d.ts"), mqtt: existsSync(mqtt) ? mqtt : undefined };
}

/** The SDK named by $MODDABLE, else the one in ~/.local/share/moddable, else why there is none. */
export function findSdk(): SdkLookup {
	const tried: string[] = [];
	const env = process.env.MODDABLE;
	if (env !== undefined && env !== "") {
		const why = notAnSdk(env);
		if (why === undefined) return { sdk: describeSdk(env, "$MODDABLE") };
		tried.push(`$MODDABLE: ${why}`);
	}
	else tried.push("$MODDABLE is not set");
	const home = join(homedir(), ".local", "share", "moddable");
	const why = notAnSdk(home);
	if (why === undefined) return { sdk: describeSdk(home, "~/.local/share/moddable") };
	tried.push(`~/.local/share/moddable: ${why}`);
	return { reason: `no Moddable SDK found (${tried.join("; ")})` };
}

/** The SDK's Linux tools (mcconfig, mcsim), or why they are missing. */
export function linuxTools(sdk: Sdk): { mcconfig: string; mcsim: string; reason?: undefined } | { reason: string } {
	if (process.platform !== "linux") return { reason: `the simulator launcher runs on Linux; this is ${process.platform}` };
	const bin = join(sdk.root, "build", "bin", "lin", "release");
	const mcconfig = join(bin, "mcconfig");
	const mcsim = join(bin, "mcsim");
	if (!existsSync(mcconfig)) return { reason: `${sdk.root} has no built mcconfig (${mcconfig})` };
	if (!existsSync(mcsim)) return { reason: `${sdk.root} has no built simulator (${mcsim})` };
	return { mcconfig, mcsim };
}

