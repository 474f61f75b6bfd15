// A transport that lets a test see the packets: it wraps the Node transport and parses what goes up
// (client to broker) and what comes down with mqtt-packet, the second codec, so that a test against a
// real broker can say what was on the wire (how many QoS 1/2 messages were in flight, how many bytes
// a PUBLISH took, that nothing was sent) without trusting the client's own account.

import { parser } from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import type { TlsOptions, Transport, TransportHandler } from "../../modules/mqtt/host.js";
import { NodeTransport } from "../../hosts/node/transport.js";

export type Way = "up" | "down";

export interface Seen {
	way: Way;
	packet: Packet;
	/** Bytes of the whole packet, fixed header included. */
	bytes: number;
	/** Which connection (1-based, counted by open()). */
	connection: number;
}

/** Bytes of a packet whose remaining length is `length`. */
function packetBytes(length: number): number {
	let size = 1 + 1;
	for (let n = length; n >= 128; n = Math.floor(n / 128)) size++;
	return size + length;
}

export class TappedTransport implements Transport {
	readonly seen: Seen[] = [];
	/** Called for each packet as it is parsed. */
	onPacket: ((seen: Seen) => void) | undefined;
	private readonly inner = new NodeTransport();
	private connection = 0;
	private upParser = this.parser("up");
	private downParser = this.parser("down");

	constructor(private readonly protocolVersion: 4 | 5) {}

	open(host: string, port: number, tls: TlsOptions | undefined, handler: TransportHandler): void {
		// Each connection starts at a packet boundary.
		this.connection++;
		this.upParser = this.parser("up");
		this.downParser = this.parser("down");
		this.inner.open(host, port, tls, handler);
	}

	read(buffer: Uint8Array, offset: number, length: number): number {
		const n = this.inner.read(buffer, offset, length);
		if (n > 0) this.downParser.parse(Buffer.from(buffer.subarray(offset, offset + n)));
		return n;
	}

	write(buffer: Uint8Array, offset: number, length: number): number {
		const n = this.inner.write(buffer, offset, length);
		if (n > 0) this.upParser.parse(Buffer.from(buffer.subarray(offset, offset + n)));
		return n;
	}

	close(): void {
		this.inner.close();
	}

	/** The packets seen `way`, of command `cmd` ("publish", "puback", ...) when given. */
	packets(way: Way, cmd?: Packet["cmd"]): Packet[] {
		return this.seen.filter((s) => s.way === way && (cmd === undefined || s.packet.cmd === cmd)).map((s) => s.packet);
	}

	private parser(way: Way): ReturnType<typeof parser> {
		const p = parser({ protocolVersion: this.protocolVersion });
		p.on("packet", (packet: Packet) => {
			const seen: Seen = { way, packet, bytes: packetBytes(packet.length ?? 0), connection: this.connection };
			this.seen.push(seen);
			this.onPacket?.(seen);
		});
		p.on("error", (error: Error) => {
			throw new Error(`the tap could not parse a packet going ${way}: ${error.message}`);
		});
		return p;
	}
}
