#!/usr/bin/env node
// MQTT over WebSocket at the frame level, against the broker:
// subprotocol selection, packets split across and merged into binary
// frames, and a text frame closing the connection (v5 and v3.1.1 §6.0,
// whose statements have the same numbers in both versions). Packets are
// MQTT 3.1.1, written by hand so that each frame holds exactly the bytes
// the case needs.
//
// Usage: node ws_frames.mjs WS_PORT   (the broker on 127.0.0.1)

import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { HOST, GRACE, check, runCases, sleep, withTimeout } from './lib.mjs'

const [wsPort] = process.argv.slice(2)
const URL = `ws://${HOST}:${wsPort}/mqtt`
const RUN = randomBytes(4).toString('hex')

// --- MQTT 3.1.1 packets --------------------------------------------------

function remainingLength (n) {
  const out = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

const str = (s) => {
  const b = Buffer.from(s)
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
}
const packet = (first, body) => Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body])
const u16 = (n) => Buffer.from([n >> 8, n & 0xff])

// Clean session, keep alive 60 s.
const connect = (id) => packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(id)]))
const subscribe = (pid, filter, qos) => packet(0x82, Buffer.concat([u16(pid), str(filter), Buffer.from([qos])]))
const publishQos1 = (pid, topic, payload) => packet(0x32, Buffer.concat([str(topic), u16(pid), Buffer.from(payload)]))
const PINGREQ = Buffer.from([0xc0, 0x00])

// Splits a byte stream into packets: [type, flags, body].
function parsePackets (buf) {
  const packets = []
  let at = 0
  for (;;) {
    let len = 0
    let mult = 1
    let i = at + 1
    for (;;) {
      if (i >= buf.length) return [packets, buf.subarray(at)]
      const b = buf[i++]
      len += (b & 0x7f) * mult
      mult *= 128
      if (!(b & 0x80)) break
    }
    if (i + len > buf.length) return [packets, buf.subarray(at)]
    packets.push([buf[at] >> 4, buf[at] & 0x0f, buf.subarray(i, i + len)])
    at = i + len
  }
}

const NAMES = { 2: 'CONNACK', 3: 'PUBLISH', 4: 'PUBACK', 9: 'SUBACK', 13: 'PINGRESP' }
const named = (packets) => packets.map(([t]) => NAMES[t] ?? `type ${t}`)

// --- A raw WebSocket that collects the broker's packets -----------------

class Conn {
  static open (protocols = ['mqtt']) {
    const c = new Conn()
    c.ws = new WebSocket(URL, protocols)
    c.pending = Buffer.alloc(0)
    c.packets = []
    c.textFrames = 0
    c.closed = false
    c.waiters = []
    c.ws.on('message', (data, isBinary) => {
      // The broker sends its packets in binary frames only [MQTT-6.0.0-1].
      if (!isBinary) c.textFrames++
      const [packets, rest] = parsePackets(Buffer.concat([c.pending, data]))
      c.pending = Buffer.from(rest)
      c.packets.push(...packets)
      c.wake()
    })
    c.ws.on('close', (code) => { c.closed = true; c.closeCode = code; c.wake() })
    return withTimeout(new Promise((resolve, reject) => {
      c.ws.once('open', () => resolve(c))
      c.ws.once('error', reject)
    }), 'the WebSocket handshake')
  }

  wake () { for (const w of this.waiters) w() }

  until (what, cond) {
    return withTimeout(new Promise((resolve) => {
      const done = () => { if (cond()) resolve() }
      this.waiters.push(done)
      done()
    }), what)
  }

  // Each buffer goes out as one binary frame.
  async sendFrames (frames) {
    for (const f of frames) {
      await new Promise((resolve, reject) => this.ws.send(f, { binary: true }, (e) => (e ? reject(e) : resolve())))
      // Let each frame reach the broker on its own.
      await sleep(5)
    }
  }

  async expect (names) {
    await this.until(`${names.join(', ')} (got ${named(this.packets).join(', ')})`,
      () => this.packets.length >= names.length || this.closed)
    const got = named(this.packets)
    check(JSON.stringify([...got].sort()) === JSON.stringify([...names].sort()),
      `got ${got.join(', ')}, want ${names.join(', ')}`)
    check(this.textFrames === 0, `${this.textFrames} text frames from the broker [MQTT-6.0.0-1]`)
  }

  close () { this.ws.terminate() }
}

// Cuts `buf` into pieces of `size` bytes (the last may be shorter).
function chop (buf, size) {
  const out = []
  for (let at = 0; at < buf.length; at += size) out.push(buf.subarray(at, at + size))
  return out
}

// CONNECT, SUBSCRIBE to a topic, PUBLISH QoS 1 to it, PINGREQ: the broker
// answers CONNACK, SUBACK, PUBACK, the message back (3.1.1 has no No
// Local) and PINGRESP, whatever the framing.
function session (tag) {
  const topic = `transport/${RUN}/${tag}`
  return Buffer.concat([
    connect(`ws-${RUN}-${tag}`),
    subscribe(1, topic, 1),
    publishQos1(2, topic, `framed ${tag}`),
    PINGREQ
  ])
}
const ANSWERS = ['CONNACK', 'SUBACK', 'PUBACK', 'PUBLISH', 'PINGRESP']

async function framed (tag, frames) {
  const c = await Conn.open()
  try {
    await c.sendFrames(frames)
    await c.expect(ANSWERS)
    const echo = c.packets.find(([t]) => t === 3)
    check(echo[2].toString().endsWith(`framed ${tag}`), `message back: ${echo[2]}`)
  } finally {
    c.close()
  }
}

const cases = [
  ['v5 v3.1.1 [MQTT-6.0.0-3] [MQTT-6.0.0-4] the broker selects subprotocol mqtt among those offered', async () => {
    const c = await Conn.open(['foo', 'mqtt'])
    try {
      check(c.ws.protocol === 'mqtt', `selected ${JSON.stringify(c.ws.protocol)}`)
    } finally {
      c.close()
    }
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-3] a handshake that does not offer mqtt is refused', async () => {
    for (const protocols of [[], ['mqttv3.1', 'foo']]) {
      const status = await withTimeout(new Promise((resolve) => {
        const ws = new WebSocket(URL, protocols)
        ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy() })
        ws.on('open', () => { resolve('open'); ws.terminate() })
        ws.on('error', () => resolve('error'))
      }), 'the refusal')
      check(status === 400, `offering ${JSON.stringify(protocols)}: ${status}, want HTTP 400`)
    }
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-2] split: one byte per binary frame', () => {
    const bytes = session('split-1')
    return framed('split-1', chop(bytes, 1))
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-2] split: each packet cut inside its fixed header and its payload', () => {
    const parts = [connect(`ws-${RUN}-split-2`), subscribe(1, `transport/${RUN}/split-2`, 1),
      publishQos1(2, `transport/${RUN}/split-2`, 'framed split-2'), PINGREQ]
    const frames = parts.flatMap((p) => [p.subarray(0, 1), p.subarray(1, 5), p.subarray(5)]).filter((f) => f.length)
    return framed('split-2', frames)
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-2] merge: five packets in one binary frame', () =>
    framed('merge', [session('merge')])],
  ['v5 v3.1.1 [MQTT-6.0.0-2] unaligned: frames of 7 bytes, each ending inside a packet', () => {
    const bytes = session('unaligned')
    return framed('unaligned', chop(bytes, 7))
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-1] a text frame after CONNECT closes the connection', async () => {
    const c = await Conn.open()
    try {
      await c.sendFrames([connect(`ws-${RUN}-text`)])
      await c.expect(['CONNACK'])
      c.ws.send(PINGREQ.toString('latin1'), { binary: false })
      await c.until('the broker closing the connection', () => c.closed)
      check(!c.packets.some(([t]) => t === 13), 'the broker answered a PINGREQ sent in a text frame')
    } finally {
      c.close()
    }
  }],
  ['v5 v3.1.1 [MQTT-6.0.0-1] a text frame before CONNECT closes the connection', async () => {
    const c = await Conn.open()
    try {
      c.ws.send(connect(`ws-${RUN}-text-first`).toString('latin1'), { binary: false })
      await c.until('the broker closing the connection', () => c.closed)
      await sleep(GRACE)
      check(c.packets.length === 0, `the broker answered: ${named(c.packets).join(', ')}`)
    } finally {
      c.close()
    }
  }]
]
await runCases('ws-frames', cases)
