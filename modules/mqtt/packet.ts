// The 14 MQTT 3.1.1 control packets as plain objects: what `encode` takes and `decodePacket` gives.
// Names follow the OASIS standard; the hot paths use the positional encoders and PacketView instead.

export {
	CONNACK, CONNECT, DISCONNECT, MAX_REMAINING_LENGTH, MAX_STRING_BYTES, PACKET_NAMES, PINGREQ, PINGRESP,
	PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBACK_FAILURE, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
} from "./constants.js";
import type { CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE } from "./constants.js";
import type { PropertyValues } from "./properties.js";

export type QoS = 0 | 1 | 2;
/** Payloads may be given in any of these forms; strings are written as UTF-8. */
export type Payload = Uint8Array | ArrayBuffer | string;

export interface Will {
	topic: string;
	payload: Payload;
	qos: QoS;
	retain: boolean;
	/** MQTT 5.0 will properties (5.0 §3.1.3.2); only with protocol level 5. */
	properties?: PropertyValues;
}

export interface ConnectPacket {
	type: typeof CONNECT;
	/** 4 for MQTT 3.1.1 (the default), 5 for MQTT 5.0. */
	protocolLevel?: number;
	/**
	 * MQTT 5.0 CONNECT properties (5.0 §3.1.2.11), with protocol level 5: given (even `{}`), the packet
	 * has the 5.0 layout; absent, the 3.1.1 layout with whatever level byte is asked for.
	 */
	properties?: PropertyValues;
	clientId: string;
	cleanSession: boolean;
	/** Seconds; 0 turns keepalive off. */
	keepAlive: number;
	will?: Will;
	username?: string;
	password?: Payload;
}

export interface ConnackPacket {
	type: typeof CONNACK;
	sessionPresent: boolean;
	returnCode: number;
}

export interface PublishPacket {
	type: typeof PUBLISH;
	topic: string;
	payload: Payload;
	qos: QoS;
	retain: boolean;
	dup: boolean;
	/** Present exactly when qos > 0. */
	packetId?: number;
}

export interface AckPacket<T extends number> {
	type: T;
	packetId: number;
}
export type PubackPacket = AckPacket<typeof PUBACK>;
export type PubrecPacket = AckPacket<typeof PUBREC>;
export type PubrelPacket = AckPacket<typeof PUBREL>;
export type PubcompPacket = AckPacket<typeof PUBCOMP>;
export type UnsubackPacket = AckPacket<typeof UNSUBACK>;

export interface Subscription {
	filter: string;
	qos: QoS;
	/** MQTT 5.0 subscription options (5.0 §3.8.3.1); only with protocol level 5. Not to be sent one's own messages. */
	noLocal?: boolean;
	/** MQTT 5.0: forwarded with the retain flag they were published with. */
	retainAsPublished?: boolean;
	/** MQTT 5.0: 0, send retained messages at subscribe; 1, only for a new subscription; 2, never. */
	retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
	type: typeof SUBSCRIBE;
	packetId: number;
	subscriptions: Subscription[];
}

export interface SubackPacket {
	type: typeof SUBACK;
	packetId: number;
	/** Per filter, in order: the granted QoS 0, 1 or 2, or 0x80 for a failure. */
	returnCodes: number[];
}

export interface UnsubscribePacket {
	type: typeof UNSUBSCRIBE;
	packetId: number;
	filters: string[];
}

export interface EmptyPacket<T extends number> {
	type: T;
}
export type PingreqPacket = EmptyPacket<typeof PINGREQ>;
export type PingrespPacket = EmptyPacket<typeof PINGRESP>;
export type DisconnectPacket = EmptyPacket<typeof DISCONNECT>;

export type Packet =
	| ConnectPacket | ConnackPacket | PublishPacket
	| PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket
	| SubscribePacket | SubackPacket | UnsubscribePacket | UnsubackPacket
	| PingreqPacket | PingrespPacket | DisconnectPacket;
