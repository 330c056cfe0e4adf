#!/usr/bin/env node
// A web page in headless Chromium subscribes through MQTT.js (its browser
// bundle) over WebSocket to the broker, receives a message that
// mosquitto_pub publishes over TCP, and shows it. The test reads the
// page's text and saves a screenshot for a person to look at.
//
// Usage: node browser.mjs WS_PORT TCP_PORT SCREENSHOT_DIR
//
// The page and the bundle come from a small HTTP server this script
// starts on 127.0.0.1 (a port chosen by the system) and stops.

import { randomBytes } from 'node:crypto'
import { readFile, mkdir } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { HOST, check, mosquittoPub, runCases } from './lib.mjs'

const [wsPort, tcpPort, shotDir] = process.argv.slice(2)
const here = path.dirname(fileURLToPath(import.meta.url))
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const RUN = randomBytes(4).toString('hex')
const TOPIC = `transport/${RUN}/browser`
const MESSAGE = `hello browser ${RUN}`

// The page takes the broker's URL and the topic from its query string.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>MQTT over WebSocket</title>
<style>body { font: 16px sans-serif; margin: 2em } #message { font-weight: bold }</style>
</head><body>
<h1>MQTT over WebSocket</h1>
<p>Status: <span id="status">loading</span></p>
<p>Message: <span id="message">(none yet)</span></p>
<script src="/mqtt.min.js"></script>
<script>
  const q = new URLSearchParams(location.search)
  const status = document.getElementById('status')
  const client = mqtt.connect(q.get('broker'), { protocolVersion: 5, reconnectPeriod: 0 })
  client.on('connect', () => {
    status.textContent = 'connected'
    client.subscribe(q.get('topic'), { qos: 1 }, (err) => {
      status.textContent = err ? 'subscribe failed: ' + err.message : 'subscribed'
    })
  })
  client.on('message', (topic, payload) => {
    document.getElementById('message').textContent = topic + ': ' + payload.toString()
  })
  client.on('error', (e) => { status.textContent = 'error: ' + e.message })
</script>
</body></html>`

async function serve () {
  const bundle = await readFile(path.join(here, 'node_modules/mqtt/dist/mqtt.min.js'))
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/mqtt.min.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
    } else if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise((resolve) => server.listen(0, HOST, resolve))
  return server
}

async function browserReceives () {
  const server = await serve()
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  try {
    const page = await browser.newPage({ viewport: { width: 800, height: 300 } })
    const query = new URLSearchParams({ broker: `ws://${HOST}:${wsPort}/mqtt`, topic: TOPIC })
    await page.goto(`http://${HOST}:${server.address().port}/?${query}`)
    await page.waitForFunction(() => document.getElementById('status').textContent !== 'loading' &&
      document.getElementById('status').textContent !== 'connected', null, { timeout: 10000 })
    const status = await page.textContent('#status')
    check(status === 'subscribed', `the page says ${JSON.stringify(status)}`)
    await mosquittoPub(['-h', HOST, '-p', tcpPort, '-t', TOPIC, '-m', MESSAGE, '-q', '1'])
    await page.waitForFunction(() => document.getElementById('message').textContent !== '(none yet)',
      null, { timeout: 10000 })
    const shown = await page.textContent('#message')
    await mkdir(shotDir, { recursive: true })
    const shot = path.join(shotDir, 'browser.png')
    await page.screenshot({ path: shot })
    console.log(`browser: screenshot in ${shot}`)
    check(shown === `${TOPIC}: ${MESSAGE}`, `the page shows ${JSON.stringify(shown)}`)
  } finally {
    await browser.close()
    server.close()
  }
}

await runCases('browser', [
  ['v5 §6 [MQTT-6.0.0-3] [MQTT-6.0.0-4] MQTT.js in Chromium over ws receives a QoS 1 message from mosquitto_pub over tcp',
    browserReceives]
], 90000)
