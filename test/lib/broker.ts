// The brokers the tests start: mosquitto 2, or aedes in-process where mosquitto is missing
// (mosquitto.ts, which the benchmarks and `npm start` use too).

export * from "./mosquitto.js";
