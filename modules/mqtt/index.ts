// The library's public surface in one place: the client, its host seam, the codec and the errors.

export { Client } from "./client.js";
export type { ClientOptions, Message, MessageHandler, ReconnectOptions } from "./client.js";
export type { Clock, Store, TlsOptions, Transport, TransportHandler } from "./host.js";
export { ErrorCode, MqttError } from "./errors.js";
export * from "./packet.js";
export { encode, encodeAck, encodeConnack, encodeConnect, encodeEmpty, encodePublish, encodeSuback, encodeSubscribe, encodeUnsubscribe } from "./encode.js";
export { decodePacket, PacketView, parsePacket, toPacket } from "./decode.js";
export { PacketReader } from "./reader.js";
export { topicMatches, validateTopicFilter, validateTopicName } from "./topic.js";
export { Session } from "./session.js";
export type { SubscriptionEntry } from "./subscriptions.js";
export type { RejectedMessage, SessionEvents, SessionOptions, SessionStats } from "./session.js";
