// Every number the wire format fixes, in one table (MQTT 3.1.1, chapter 2 and the packets of chapter
// 3): packet types, fixed-header flags, masks and shifts, CONNECT flags, limits. The codec, the reader
// and the session name these instead of writing bits.

// ---- Control packet types (§2.2.1), in bits 7..4 of the first byte -----------------------------
export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;
/** MQTT 5.0 only (5.0 §3.15: authentication exchange); a reserved type in 3.1.1. */
export const AUTH = 15;

export const PACKET_NAMES = [
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "RESERVED",
] as const;

// ---- The fixed header's first byte (§2.2) -------------------------------------------------------
/** The packet type is the first byte shifted right by this. */
export const TYPE_SHIFT = 4;
/** The flags are the first byte's low nibble. */
export const FLAGS_MASK = 0x0F;
/** PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010; every other packet but PUBLISH 0000 (§2.2.2). */
export const REQUIRED_FLAGS = 0x02;
/** PUBLISH flags (§3.3.1): DUP, QoS in bits 2..1, RETAIN. */
export const DUP_FLAG = 0x08;
export const QOS_SHIFT = 1;
export const QOS_BITS = 0x03;
export const RETAIN_FLAG = 0x01;

/** First bytes of the packets a broker answers with, as they arrive. */
export const PUBLISH_HEADER = PUBLISH << TYPE_SHIFT;
export const PUBACK_HEADER = PUBACK << TYPE_SHIFT;
export const PUBREC_HEADER = PUBREC << TYPE_SHIFT;
export const PUBREL_HEADER = (PUBREL << TYPE_SHIFT) | REQUIRED_FLAGS;
export const PUBCOMP_HEADER = PUBCOMP << TYPE_SHIFT;
export const UNSUBACK_HEADER = UNSUBACK << TYPE_SHIFT;
export const PINGRESP_HEADER = PINGRESP << TYPE_SHIFT;

// ---- CONNECT (§3.1.2) ---------------------------------------------------------------------------
/** Protocol level 4: MQTT 3.1.1 (§3.1.2.2). */
export const PROTOCOL_LEVEL = 4;
/** Connect flags (§3.1.2.3). */
export const CONNECT_RESERVED = 0x01;
export const CLEAN_SESSION = 0x02;
export const WILL_FLAG = 0x04;
export const WILL_QOS_SHIFT = 3;
export const WILL_QOS_MASK = 0x18;
export const WILL_RETAIN = 0x20;
export const PASSWORD_FLAG = 0x40;
export const USERNAME_FLAG = 0x80;
/** The CONNACK acknowledge flags: only bit 0, session present (§3.2.2.1). */
export const SESSION_PRESENT = 0x01;

// ---- Limits -------------------------------------------------------------------------------------
/** Largest remaining length: four 7-bit groups (§2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** The largest MQTT packet: a fixed header of 5 bytes and the largest remaining length. */
export const MAX_PACKET_SIZE = 5 + MAX_REMAINING_LENGTH;
/** Largest UTF-8 string: a 16-bit length prefix (§1.5.3). */
export const MAX_STRING_BYTES = 65_535;
/** SUBACK return code for a refused subscription (§3.9.3); codes above it are refusals too. */
export const SUBACK_FAILURE = 0x80;
