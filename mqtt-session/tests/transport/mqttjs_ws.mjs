#!/usr/bin/env node
// MQTT.js over WebSocket to the broker, exchanging QoS 0, 1 and 2
// messages with mosquitto_sub and mosquitto_pub over plain TCP, in MQTT
// 3.1.1 and 5.0: the same sessions and routing whatever the transport.
//
// Usage: node mqttjs_ws.mjs WS_PORT TCP_PORT WSS_PORT CA_FILE
// (the broker on 127.0.0.1; its TLS certificate names localhost and is
// signed by the CA in CA_FILE)

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import { HOST, TIMEOUT, check, mosquittoPub, mosquittoSub, runCases, withTimeout } from './lib.mjs'

const [wsPort, tcpPort, wssPort, caFile] = process.argv.slice(2)
const RUN = randomBytes(4).toString('hex')

async function openWs (version, { tls = false } = {}) {
  const options = {
    protocolVersion: version,
    clientId: `mqttjs-ws-${RUN}-${version}-${tls ? 'wss' : 'ws'}`,
    // A reconnection would hide the broker closing on us.
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT
  }
  if (tls) options.ca = readFileSync(caFile)
  const url = tls ? `wss://localhost:${wssPort}/mqtt` : `ws://${HOST}:${wsPort}/mqtt`
  const c = mqtt.connect(url, options)
  c.received = []
  c.on('message', (topic, payload, packet) => {
    c.received.push(`${packet.qos} ${topic} ${payload}`)
  })
  await withTimeout(new Promise((resolve, reject) => {
    c.once('connect', resolve)
    c.once('error', reject)
  }), 'CONNACK over WebSocket')
  return c
}

const cliVersion = (version) => (version === 5 ? 'mqttv5' : 'mqttv311')

async function wsPublishesToTcp (version, tls = false) {
  const topic = `transport/${RUN}/v${version}/${tls ? 'wss' : 'ws'}-to-tcp`
  const sub = await mosquittoSub(['-h', HOST, '-p', tcpPort, '-V', cliVersion(version),
    '-t', topic, '-q', '2', '-C', '3', '-W', '10'])
  const c = await openWs(version, { tls })
  try {
    for (const qos of [0, 1, 2]) {
      // Resolves on PUBACK / PUBCOMP for QoS 1 / 2, so each flow completes
      // over WebSocket.
      await withTimeout(c.publishAsync(topic, `from ws at qos ${qos}`, { qos }), `publish QoS ${qos}`)
    }
    const lines = await sub.waitFor(3)
    const want = [0, 1, 2].map((q) => `${q} ${topic} from ws at qos ${q}`)
    check(JSON.stringify([...lines].sort()) === JSON.stringify(want),
      `mosquitto_sub got ${JSON.stringify(lines)}, want ${JSON.stringify(want)}`)
  } finally {
    sub.stop()
    await c.endAsync()
  }
}

async function tcpPublishesToWs (version) {
  const topic = `transport/${RUN}/v${version}/tcp-to-ws`
  const c = await openWs(version)
  try {
    const granted = await withTimeout(c.subscribeAsync(topic, { qos: 2 }), 'SUBACK over WebSocket')
    check(granted[0]?.qos === 2, `granted ${JSON.stringify(granted)}`)
    for (const qos of [0, 1, 2]) {
      await mosquittoPub(['-h', HOST, '-p', tcpPort, '-V', cliVersion(version),
        '-t', topic, '-m', `from tcp at qos ${qos}`, '-q', String(qos)])
    }
    await withTimeout(new Promise((resolve) => {
      const done = () => { if (c.received.length >= 3) resolve() }
      c.on('message', done)
      done()
    }), '3 messages over WebSocket')
    const want = [0, 1, 2].map((q) => `${q} ${topic} from tcp at qos ${q}`)
    check(JSON.stringify([...c.received].sort()) === JSON.stringify(want),
      `MQTT.js got ${JSON.stringify(c.received)}, want ${JSON.stringify(want)}`)
  } finally {
    await c.endAsync()
  }
}

const cases = []
for (const [tag, version] of [['v3.1.1', 4], ['v5', 5]]) {
  cases.push([`${tag} §6 [MQTT-4.3.1-1] [MQTT-4.3.2-4] [MQTT-4.3.3-8] MQTT.js over ws publishes QoS 0/1/2 to mosquitto_sub over tcp`,
    () => wsPublishesToTcp(version)])
  cases.push([`${tag} §6 [MQTT-4.3.1-1] [MQTT-4.3.2-4] [MQTT-4.3.3-8] mosquitto_pub over tcp publishes QoS 0/1/2 to MQTT.js over ws`,
    () => tcpPublishesToWs(version)])
}
cases.push(['v5 §4.2 §6 [MQTT-4.3.1-1] [MQTT-4.3.2-4] [MQTT-4.3.3-8] MQTT.js over wss://localhost publishes QoS 0/1/2 to mosquitto_sub over tcp',
  () => wsPublishesToTcp(5, true)])
await runCases('mqttjs-ws', cases)
