// Live heap of a connected client inside XS: registers `footprint` on globalThis, whose calls each
// build one thing and keep it in a fixed slot, so the Node side can count slots around them.

import { Client } from "../../../modules/mqtt/client.js";
import { LoopbackBroker } from "./loopback.js";
import { ManualClock } from "../manual-clock.js";

const SLOTS = 8;
// Preallocated, so that keeping something grows nothing but that thing.
const brokers: Array<LoopbackBroker | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
const clocks: Array<ManualClock | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
const clients: Array<Client | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];

function check(slot: number): void {
	if (!(slot >= 0 && slot < SLOTS)) throw new Error(`slot ${slot} is outside 0..${SLOTS - 1}`);
}

export const footprint: Record<string, (slot: number) => void> = {
	/** Nothing: the cost of a crank that calls a footprint function. */
	nothing(slot: number): void {
		check(slot);
	},
	/** The transport and clock a client will use (made before it, so not counted with it). */
	oursHost(slot: number): void {
		check(slot);
		brokers[slot] = new LoopbackBroker();
		clocks[slot] = new ManualClock();
	},
	/** A client with default options (a fixed client id), opened and connected by CONNACK. */
	ours(slot: number): void {
		check(slot);
		const broker = brokers[slot]!;
		const client = new Client({ host: "loopback", clientId: "bench", transport: broker, clock: clocks[slot]! });
		broker.handler!.onOpen();
		broker.deliver();
		if (!client.connected) throw new Error("footprint: our client did not connect");
		clients[slot] = client;
	},
};

(globalThis as unknown as { footprint: typeof footprint }).footprint = footprint;
(globalThis as unknown as { footprintReady: boolean }).footprintReady = true;
