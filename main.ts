// The device firmware's entry point. For now it proves the codec runs on the device:
// it encodes a CONNECT and a PUBLISH into one fixed buffer and traces their sizes.

import { encodeConnect, encodePublish } from "./modules/mqtt/encode.js";

const buffer = new Uint8Array(128);
const connect = encodeConnect(buffer, 0, { type: 1, clientId: "xs-mqtt-demo", cleanSession: true, keepAlive: 60 });
const publish = encodePublish(buffer, 0, "devices/demo/telemetry", "{\"seq\":1}", 0, false, false, 0);
trace(`xs-mqtt: CONNECT ${connect} bytes, PUBLISH ${publish} bytes\n`);
