#!/usr/bin/env node
// Interoperability of a broker with MQTT.js 5.x, in 3.1.1 and 5.0.
//
// Usage: node mqttjs_interop.mjs PORT [--skip CASE,...]  (the broker listens
// on 127.0.0.1:PORT; --skip leaves out cases the broker does not offer, e.g.
// `retained`, each named in a `SKIP` line)
//
// Prints one line `PASS mqttjs <version> <case>` or `FAIL mqttjs <version>
// <case>: <why>` per case and exits 1 if any case failed. Every wait has a
// timeout, so a message that never arrives is a failure, never a silent
// pass; a watchdog ends the whole run if something hangs anyway.

import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import mqtt from 'mqtt'

const HOST = '127.0.0.1'
const CLIENT = 'mqttjs'
// A message that should arrive is waited for this long; one that should not
// arrive is given GRACE to show up before we conclude it did not.
const TIMEOUT = 5000
const GRACE = 500
const WATCHDOG = 50000

const VERSIONS = [
  ['3.1.1', 4],
  ['5.0', 5]
]

// A fresh prefix per run: one broker may serve several runs, and a session
// or retained message left by an earlier run must not satisfy this one.
const RUN = randomBytes(4).toString('hex')

class Failed extends Error {}

function check (cond, why) {
  if (!cond) throw new Failed(why)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function withTimeout (promise, what, ms = TIMEOUT) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Failed(`timeout waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const show = (v) => JSON.stringify(v)

// An MQTT.js client that records what it receives from the first byte on,
// so that messages sent right after the CONNACK (a resumed session's queue)
// are not missed.
class Client {
  static async open (port, version, { clientId, clean = true, expiry, will } = {}) {
    const self = new Client()
    const options = {
      protocolVersion: version,
      clientId: clientId ?? `mqttjs-${RUN}-${randomBytes(3).toString('hex')}`,
      clean,
      keepalive: 30,
      // A reconnection would hide the broker closing on us.
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT
    }
    if (version === 5 && expiry !== undefined) {
      options.properties = { sessionExpiryInterval: expiry }
    }
    if (will) options.will = will
    self.messages = []
    self.waiters = []
    self.c = mqtt.connect(`mqtt://${HOST}:${port}`, options)
    self.c.on('message', (topic, payload, packet) => {
      self.messages.push([topic, payload.toString(), packet.qos, Boolean(packet.retain)])
      for (const w of self.waiters) w()
    })
    const connack = await withTimeout(
      new Promise((resolve, reject) => {
        self.c.once('connect', resolve)
        self.c.once('error', reject)
      }),
      'CONNACK'
    )
    // Kept for close(): MQTT.js reports what it refuses from the broker
    // as an error event.
    self.errors = []
    self.c.on('error', (e) => self.errors.push(e.message))
    self.sessionPresent = Boolean(connack.sessionPresent)
    return self
  }

  // Subscribes to [[filter, qos]] and checks the granted QoS.
  async subscribe (filters) {
    const granted = await withTimeout(
      this.c.subscribeAsync(Object.fromEntries(filters.map(([f, qos]) => [f, { qos }]))),
      `SUBACK ${show(filters)}`
    )
    const got = granted.map((g) => [g.topic, g.qos])
    check(isDeepStrictEqual(got, filters), `granted ${show(got)} for ${show(filters)}`)
  }

  // QoS 1/2 resolve on PUBACK / PUBCOMP, so that the broker has the message
  // before the next step of a case relies on it.
  async publish (topic, payload, qos = 0, retain = false) {
    await withTimeout(this.c.publishAsync(topic, payload, { qos, retain }), `ack of ${topic}`)
  }

  async waitMessages (n, what) {
    await withTimeout(
      new Promise((resolve) => {
        const w = () => {
          if (this.messages.length >= n) resolve()
        }
        this.waiters.push(w)
        w()
      }),
      what
    )
    return [...this.messages]
  }

  // Gives stray messages GRACE to arrive, then returns all received.
  async settle () {
    await sleep(GRACE)
    return [...this.messages]
  }

  async close () {
    const connected = this.c.connected
    await withTimeout(this.c.endAsync(), 'DISCONNECT')
    check(this.errors.length === 0, `client errors: ${show(this.errors)}`)
    check(connected, "the connection was lost before the client's DISCONNECT")
  }

  // Drops the TCP connection without a DISCONNECT, as a crash would.
  kill () {
    this.c.stream.destroy()
    this.c.end(true)
  }
}

const sortRows = (rows) => [...rows].sort((a, b) => show(a).localeCompare(show(b)))

async function caseWildcards (port, v, base) {
  const sub = await Client.open(port, v)
  try {
    await sub.subscribe([[`${base}/+/temp`, 1], [`${base}/deep/#`, 1]])
    const pub = await Client.open(port, v)
    const want = [`${base}/room1/temp`, `${base}/room2/temp`, `${base}/deep`, `${base}/deep/a/b`]
    try {
      // Non-matching first: once the matching ones are in, the others had
      // time to arrive had they been routed.
      for (const t of [`${base}/room1/hum`, `${base}/room1/x/temp`, `${base}/deeper/a`]) {
        await pub.publish(t, 'no', 1)
      }
      for (const t of want) await pub.publish(t, 'yes', 1)
    } finally {
      await pub.close()
    }
    await sub.waitMessages(want.length, 'the matching messages')
    const got = (await sub.settle()).map(([t]) => t).sort()
    // `#` also matches its parent level [MQTT-4.7.1-2].
    check(isDeepStrictEqual(got, [...want].sort()), `received ${show(got)}, want ${show(want)}`)
  } finally {
    await sub.close()
  }
}

function caseQos (pubQos) {
  return async (port, v, base) => {
    const sub = await Client.open(port, v)
    try {
      await sub.subscribe([0, 1, 2].map((q) => [`${base}/s${q}/#`, q]))
      const pub = await Client.open(port, v)
      try {
        for (const q of [0, 1, 2]) await pub.publish(`${base}/s${q}/m`, `p${pubQos}s${q}`, pubQos)
      } finally {
        await pub.close()
      }
      await sub.waitMessages(3, 'one message per subscription QoS')
      const got = sortRows(await sub.settle())
      const want = sortRows(
        [0, 1, 2].map((q) => [`${base}/s${q}/m`, `p${pubQos}s${q}`, Math.min(pubQos, q), false])
      )
      // Exactly once each: a duplicate on this clean loopback link would
      // mean the broker resent without cause.
      check(isDeepStrictEqual(got, want), `received ${show(got)}, want ${show(want)}`)
    } finally {
      await sub.close()
    }
  }
}

async function caseRetained (port, v, base) {
  const topic = `${base}/r`
  const pub = await Client.open(port, v)
  try {
    await pub.publish(topic, 'kept', 1, true)
    const sub = await Client.open(port, v)
    try {
      await sub.subscribe([[topic, 1]])
      let got = await sub.waitMessages(1, 'the retained message')
      check(isDeepStrictEqual(got[0], [topic, 'kept', 1, true]), `on subscribe: ${show(got[0])}`)
      // Clear it; the live copy to an existing subscriber has RETAIN 0
      // (v3.1.1 [MQTT-3.3.1-9], v5 Retain As Published off).
      await pub.publish(topic, '', 1, true)
      got = await sub.waitMessages(2, 'the empty retained message live')
      check(isDeepStrictEqual(got[1], [topic, '', 1, false]), `live empty retained: ${show(got[1])}`)
    } finally {
      await sub.close()
    }
    const late = await Client.open(port, v)
    try {
      await late.subscribe([[topic, 1]])
      const stray = await late.settle()
      check(stray.length === 0, `cleared retained message still delivered: ${show(stray)}`)
      // The subscription works, so the silence above means something.
      await pub.publish(topic, 'live', 1)
      const got = await late.waitMessages(1, 'a live message after clearing')
      check(isDeepStrictEqual(got, [[topic, 'live', 1, false]]), `after clearing: ${show(got)}`)
    } finally {
      await late.close()
    }
  } finally {
    await pub.close()
  }
}

async function caseWill (port, v, base) {
  const topic = `${base}/will`
  const sub = await Client.open(port, v)
  try {
    await sub.subscribe([[topic, 1]])
    // A normal DISCONNECT discards the will [MQTT-3.1.2-10] / [MQTT-3.14.4-3].
    const polite = await Client.open(port, v, { will: { topic, payload: 'polite', qos: 1 } })
    await polite.close()
    const doomed = await Client.open(port, v, { will: { topic, payload: 'bye', qos: 1 } })
    doomed.kill()
    const got = await sub.waitMessages(1, 'the will')
    const stray = await sub.settle()
    check(isDeepStrictEqual(got[0], [topic, 'bye', 1, false]), `will: ${show(got[0])}`)
    check(stray.length === 1, `received ${show(stray)}, want only the abrupt client's will`)
  } finally {
    await sub.close()
  }
}

async function casePersistent (port, v, base) {
  const topic = `${base}/p`
  const clientId = `mqttjs-persist-${RUN}-${v}`
  const expiry = v === 5 ? 300 : undefined
  // 3.1.1 keeps the session with Clean Session 0 from the start; v5 starts
  // afresh and keeps it through the Session Expiry Interval.
  const first = await Client.open(port, v, { clientId, clean: v === 5, expiry })
  check(!first.sessionPresent, 'session present on the first connection')
  await first.subscribe([[topic, 1]])
  await first.close()
  const pub = await Client.open(port, v)
  try {
    for (const i of [0, 1, 2]) await pub.publish(topic, `queued-${i}`, 1)
  } finally {
    await pub.close()
  }
  const again = await Client.open(port, v, { clientId, clean: false, expiry })
  try {
    check(again.sessionPresent, 'session present is 0 on reconnection')
    await again.waitMessages(3, 'the queued messages')
    const got = await again.settle()
    const want = [0, 1, 2].map((i) => [topic, `queued-${i}`, 1, false])
    check(isDeepStrictEqual(got, want), `received ${show(got)}, want ${show(want)}`)
  } finally {
    await again.close()
    // Leave no session behind: a clean reconnection ends it.
    await (await Client.open(port, v, { clientId, clean: true, expiry: 0 })).close()
  }
}

function remainingLength (n) {
  const out = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n) b |= 0x80
    out.push(b)
  } while (n)
  return Buffer.from(out)
}

const packet = (first, body) => Buffer.concat([Buffer.from([first]), remainingLength(body.length), body])

function mqttStr (s) {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}

function rawConnect (v5, clientId) {
  const props = v5 ? Buffer.from([0]) : Buffer.alloc(0)
  const body = Buffer.concat([mqttStr('MQTT'), Buffer.from([v5 ? 5 : 4, 0x02, 0, 30]), props, mqttStr(clientId)])
  return packet(0x10, body)
}

// Sends data, resolves with everything the broker sends until it closes.
function rawExchange (port, data) {
  return new Promise((resolve, reject) => {
    const chunks = []
    const s = net.connect(port, HOST, () => s.write(data))
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Failed(`broker did not close; sent so far ${Buffer.concat(chunks).toString('hex')}`))
    }, TIMEOUT)
    s.on('data', (c) => chunks.push(c))
    s.on('error', (e) => {
      // A reset after the broker's last bytes is still a close.
      if (e.code !== 'ECONNRESET') {
        clearTimeout(timer)
        reject(e)
      }
    })
    s.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks))
    })
  })
}

async function caseInvalid (port, v, base) {
  const v5 = v === 5
  const props = v5 ? Buffer.from([0]) : Buffer.alloc(0)
  const invalid = {
    // A wildcard in a PUBLISH Topic Name [MQTT-3.3.2-2].
    'publish-topic-wildcard': packet(0x30, Buffer.concat([mqttStr(`${base}/+`), props, Buffer.from('x')])),
    // SUBSCRIBE with its reserved flags 0000 instead of 0010 [MQTT-3.8.1-1].
    'subscribe-reserved-flags': packet(
      0x80,
      Buffer.concat([Buffer.from([0, 1]), props, mqttStr(`${base}/s`), Buffer.from([0])])
    ),
    // PUBLISH with both QoS bits set [MQTT-3.3.1-4].
    'publish-qos-3': packet(0x36, Buffer.concat([mqttStr(`${base}/q`), Buffer.from([0, 1]), props, Buffer.from('x')]))
  }
  for (const [name, bad] of Object.entries(invalid)) {
    const got = await rawExchange(port, Buffer.concat([rawConnect(v5, `raw-${RUN}-${name}`), bad]))
    // CONNACK accepted (v5 adds properties, so take its length as sent).
    const ok = got.length >= 4 && got[0] === 0x20 && got[2] === 0 && got[3] === 0
    check(ok, `${name}: want CONNACK Success first, got ${got.toString('hex')}`)
    const rest = got.subarray(2 + got[1])
    if (v5) {
      // DISCONNECT with Malformed Packet or Protocol Error, then closed.
      const disconnect = rest.length >= 3 && rest[0] === 0xe0 && [0x81, 0x82].includes(rest[2])
      check(disconnect, `${name}: want DISCONNECT 0x81/0x82, got ${rest.toString('hex')}`)
    } else {
      // 3.1.1 has no DISCONNECT from the server: just the close.
      check(rest.length === 0, `${name}: want a bare close, got ${rest.toString('hex')}`)
    }
  }
}

const CASES = [
  ['wildcards', caseWildcards],
  ['qos0', caseQos(0)],
  ['qos1', caseQos(1)],
  ['qos2', caseQos(2)],
  ['retained', caseRetained],
  ['will', caseWill],
  ['persistent-session', casePersistent],
  ['invalid-packet', caseInvalid]
]

async function main () {
  const args = process.argv.slice(2)
  const port = Number(args[0])
  const skipped = args.length === 3 && args[1] === '--skip'
  if (!Number.isInteger(port) || port <= 0 || (args.length !== 1 && !skipped)) {
    console.error('usage: node mqttjs_interop.mjs PORT [--skip CASE,...]')
    process.exit(2)
  }
  const skip = new Set(skipped ? args[2].split(',') : [])
  const unknown = [...skip].filter((name) => !CASES.some(([cname]) => cname === name))
  if (unknown.length > 0) {
    console.error(`mqttjs_interop.mjs: no such case: ${unknown.join(', ')}`)
    process.exit(2)
  }
  // The whole script must end by itself; unref'd, so it never keeps a
  // finished run alive.
  setTimeout(() => {
    console.log(`FAIL ${CLIENT} - watchdog: the run took more than ${WATCHDOG / 1000} s`)
    process.exit(2)
  }, WATCHDOG).unref()
  let failed = 0
  for (const [vname, v] of VERSIONS) {
    for (const [cname, run] of CASES) {
      if (skip.has(cname)) {
        console.log(`SKIP ${CLIENT} ${vname} ${cname}`)
        continue
      }
      const base = `interop/${CLIENT}/${RUN}/${vname}/${cname}`
      try {
        await run(port, v, base)
        console.log(`PASS ${CLIENT} ${vname} ${cname}`)
      } catch (e) {
        failed++
        console.log(`FAIL ${CLIENT} ${vname} ${cname}: ${e.name}: ${e.message}`)
      }
    }
  }
  process.exit(failed ? 1 : 0)
}

main()
