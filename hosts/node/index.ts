// The client on Node: `createClient(options)` is `new Client(...)` with a Node transport and clock.
// For tests, tools and benchmarks; devices use hosts/moddable.

import { Client } from "../../modules/mqtt/client.js";
import type { ClientOptions } from "../../modules/mqtt/client.js";
import { NodeClock } from "./clock.js";
import { FileStore } from "./store.js";
import { NodeTransport } from "./transport.js";

export type NodeClientOptions = Omit<ClientOptions, "transport" | "clock"> & Partial<Pick<ClientOptions, "transport" | "clock">>;

export function createClient(options: NodeClientOptions): Client {
	return new Client({ transport: new NodeTransport(), clock: new NodeClock(), ...options });
}

export { FileStore, NodeClock, NodeTransport };
export type { FileStoreOptions } from "./store.js";
