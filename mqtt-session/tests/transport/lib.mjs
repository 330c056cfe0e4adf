// Helpers shared by the transport test scripts: bounded waits, mosquitto
// clients as child processes, and the PASS/FAIL report.

import { spawn } from 'node:child_process'

export const HOST = '127.0.0.1'
// What should happen is waited for this long; what should not is given
// GRACE to show up before we conclude it did not.
export const TIMEOUT = 5000
export const GRACE = 500

export class Failed extends Error {}

export function check (cond, why) {
  if (!cond) throw new Failed(why)
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function withTimeout (promise, what, ms = TIMEOUT) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Failed(`timeout waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// Runs `mosquitto_pub` to completion.
export function mosquittoPub (args) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const p = spawn('mosquitto_pub', args, { stdio: ['ignore', 'ignore', 'pipe'] })
      let err = ''
      p.stderr.on('data', (d) => { err += d })
      p.on('error', reject)
      p.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Failed(`mosquitto_pub ${args.join(' ')}: exit ${code}: ${err}`)))
    }),
    'mosquitto_pub'
  )
}

// Starts `mosquitto_sub` printing `QOS TOPIC PAYLOAD` per message, and
// resolves once its SUBACK arrived (its -d output says so), so that a
// publish made afterwards cannot be missed.
export async function mosquittoSub (args) {
  // Line-buffered: its debug lines are otherwise held until it exits.
  const p = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', '-F', '%q %t %p', ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const sub = { process: p, lines: [], waiters: [], exited: false }
  let partial = ''
  let subscribed
  const ready = new Promise((resolve) => { subscribed = resolve })
  p.stdout.on('data', (d) => {
    partial += d
    const lines = partial.split('\n')
    partial = lines.pop()
    for (const line of lines) {
      if (line.startsWith('Client ') || line.startsWith('Subscribed (')) {
        if (line.includes('received SUBACK')) subscribed()
        continue
      }
      sub.lines.push(line)
    }
    for (const w of sub.waiters) w()
  })
  p.on('exit', () => { sub.exited = true; for (const w of sub.waiters) w() })
  sub.waitFor = (n) => withTimeout(new Promise((resolve) => {
    const done = () => { if (sub.lines.length >= n || sub.exited) resolve(sub.lines) }
    sub.waiters.push(done)
    done()
  }), `${n} messages at mosquitto_sub`)
  sub.stop = () => { if (!sub.exited) p.kill() }
  await withTimeout(ready, 'the SUBACK of mosquitto_sub')
  return sub
}

// Runs each [name, async fn] case, prints PASS or FAIL per case and the
// closing count, and exits 1 if any failed. The watchdog ends a run that
// hangs anyway.
export async function runCases (suite, cases, watchdogMs = 60000) {
  const watchdog = setTimeout(() => {
    console.log(`FAIL ${suite} - watchdog: the run took more than ${watchdogMs / 1000} s`)
    process.exit(1)
  }, watchdogMs)
  let passed = 0
  let failed = 0
  for (const [name, fn] of cases) {
    try {
      await fn()
      passed++
      console.log(`PASS ${suite} ${name}`)
    } catch (e) {
      failed++
      console.log(`FAIL ${suite} ${name}: ${e.name}: ${e.message}`)
    }
  }
  clearTimeout(watchdog)
  console.log(`${suite}: ${passed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}
