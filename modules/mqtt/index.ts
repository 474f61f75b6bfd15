// The library's public surface in one place: the client, its host seam, the client half of the codec
// and the errors.

export { Client, RECONNECT_DEFAULTS } from "./client.js";
export type { ClientOptions, Message, MessageHandler, ReconnectOptions } from "./client.js";
export type { Clock, Store, TlsOptions, Transport, TransportHandler } from "./host.js";
export { ErrorCode, MqttError } from "./errors.js";
export * from "./packet.js";
export { encodeAck, encodeConnect, encodeEmpty, encodePublish, encodeSubscribe, encodeUnsubscribe } from "./encode.js";
export { PacketView, parsePacket } from "./decode.js";
export { PacketReader } from "./reader.js";
export { topicMatches, validateTopicFilter, validateTopicName } from "./topic.js";
export { hashSeed, seededRandom } from "./random.js";
export { Session } from "./session.js";
export type { SubscribeOptions, SubscriptionEntry } from "./subscriptions.js";
export type { BrokerInfo, RejectedMessage, SessionEvents, SessionOptions, SessionStats } from "./session.js";
// MQTT 5.0.
export { Properties, Property } from "./properties.js";
export type { PropertyValues } from "./properties.js";
export { ReasonCode, reasonName } from "./reason-codes.js";
export { encodeAck5, encodeConnect5, encodePublish5, encodeReasonPacket, encodeSubscribe5, encodeUnsubscribe5 } from "./encode5.js";
export { PacketView5, parsePacket5 } from "./decode5.js";
