// browser.mjs — what the page tests share: headless Chromium (Debian's, with
// a fake camera and microphone), one browser context per participant, waits
// on conditions in the page that explain themselves when they time out, and
// a screenshot of every open page when a test fails.
//
// Like test-call.mjs these tests run in a network namespace that holds only
// loopback; skipReason() says why they cannot run anywhere else.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  throw new Error(
    `the e2e tests need playwright-core in ${new URL('../node_modules', import.meta.url).pathname}: ` +
      `run 'npm ci' in tests/e2e first (${err.code ?? err.message})`,
  );
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.TRIBU_E2E_SCREENSHOTS || '';
// Where a failed test leaves its screenshots: the step screenshots' folder,
// else TRIBU_E2E_FAILURES (meson sets it to a folder of the build dir).
const FAILURE_SHOTS = SHOTS || process.env.TRIBU_E2E_FAILURES || '';
const VERBOSE = !!process.env.TRIBU_E2E_VERBOSE;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** Why the suite cannot run here, or false. */
export function skipReason(file) {
  let addrs;
  try {
    addrs = execFileSync('ip', ['-br', 'addr'], { encoding: 'utf8' });
  } catch (err) {
    return `cannot list interfaces ('ip -br addr': ${err.message})`;
  }
  const others = addrs
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .filter((name) => name && name !== 'lo');
  if (others.length > 0)
    return (
      `interfaces other than lo are present (${others.join(', ')}): run under ` +
      `"unshare -n sh -c 'ip link set lo up && exec node --test ${file}'" ` +
      '(meson test --suite e2e does)'
    );
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (set CHROMIUM)`;
  return false;
}

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/** The pages opened by openPage, for the screenshots of a failure. */
export const pages = []; // {page, name, logs}

/** Opens URL in a new context of BROWSER (its own fake devices, storage
 * and language settings). VIEWPORT defaults to a small desktop. */
export async function openPage(browser, name, url, { viewport = { width: 1100, height: 700 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'fr-FR' });
  const page = await context.newPage();
  const entry = { page, name, logs: [] };
  pages.push(entry);
  const log = (line) => {
    entry.logs.push(line);
    if (VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
  };
  page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (err) => log(`pageerror: ${err.stack || err.message}`));
  if (url) await page.goto(url);
  return page;
}

/** Closes PAGE's context and forgets it. */
export async function closePage(page) {
  const i = pages.findIndex((p) => p.page === page);
  if (i >= 0) pages.splice(i, 1);
  await page.context().close().catch(() => {});
}

async function save(page, dir, name) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `tribu-e2e-${name}.png`);
  await page.screenshot({ path, fullPage: true }).catch(() => {});
  return path;
}

/** A screenshot of a step, with TRIBU_E2E_SCREENSHOTS=DIR only. */
export async function shot(page, name) {
  if (SHOTS) await save(page, SHOTS, name);
}

/** Saves a screenshot of every open page, named after TEST: the artifact of
 * a failed test. Returns the paths. */
export async function shootAll(test) {
  if (!FAILURE_SHOTS) return [];
  const slug = test.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  const paths = [];
  for (const { page, name } of pages) paths.push(await save(page, FAILURE_SHOTS, `failed-${slug}-${name}`));
  return paths;
}

/** Runs FN(t), and on failure saves screenshots of every open page first. */
export function withShots(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const paths = await shootAll(t.name);
      if (paths.length) process.stderr.write(`${t.name}: screenshots:\n${paths.join('\n')}\n`);
      throw err;
    }
  };
}

async function pollAsync(page, fn, arg, { timeout, interval = 100 }) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timeout ${timeout}ms exceeded.`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits for FN(ARG) to be truthy in PAGE (FN may be async); on timeout the
 * error names WHAT and carries the page's state and console. */
export async function waitIn(page, what, fn, arg, { timeout = 20000 } = {}) {
  try {
    if (fn.constructor.name === 'AsyncFunction') return await pollAsync(page, fn, arg, { timeout });
    return await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    const entry = pages.find((p) => p.page === page);
    const state = await page
      .evaluate(() => ({
        state: window.tribu?.state,
        error: window.tribu?.error,
        participants: window.tribu?.participants?.map((p) => p.participant_id),
        notice: document.getElementById('notice')?.textContent?.trim(),
      }))
      .catch((e) => `(page not readable: ${e.message})`);
    throw new Error(
      `${entry?.name ?? 'page'}: ${what}: ${err.message.split('\n')[0]}\n` +
        `page state: ${JSON.stringify(state)}\nconsole:\n${entry?.logs.slice(-40).join('\n')}`,
    );
  }
}

/* ---- conditions evaluated in the page ---- */

export const joined = () => window.tribu?.state === 'joined';

/** The video of participant ID decoding and playing in the page. */
export async function videoPlaying(id) {
  const rows = await window.tribu.stats();
  const row = rows.find((r) => r.participant_id === id);
  const video = window.tribu
    .remoteVideos()
    .find((v) => v.closest('[data-participant]')?.dataset.participant === id);
  return !!row && !!video && row.framesDecoded > 0 && row.frameWidth > 0 &&
    video.videoWidth > 0 && video.currentTime > 0 && !video.paused;
}

/** The video of the participant named NAME (the current one: a page that
 * rejoined has a new participant id) decoding and playing in the page. */
export async function videoPlayingOf(name) {
  const p = window.tribu.participants.find((x) => x.name === name);
  if (!p) return false;
  const rows = await window.tribu.stats();
  const row = rows.find((r) => r.participant_id === p.participant_id);
  const video = window.tribu
    .remoteVideos()
    .find((v) => v.closest('[data-participant]')?.dataset.participant === p.participant_id);
  return !!row && !!video && row.framesDecoded > 0 && row.frameWidth > 0 &&
    video.videoWidth > 0 && video.currentTime > 0 && !video.paused;
}

/** The text elements of the page whose contrast with what is behind them
 * is under WCAG AA (4.5:1, 3:1 for large text): [{text, fg, bg, ratio}].
 * The background is the element's and its ancestors' background colours
 * composited up to the first opaque one (white if none); disabled controls
 * and text over nothing but a video are not judged. */
export function contrastFailures() {
  const parse = (c) => {
    let m = /^rgba?\(([^)]+)\)$/.exec(c);
    if (m) {
      const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    }
    m = /^color\(srgb ([^)]+)\)$/.exec(c);
    if (m) {
      const [r, g, b, a = 1] = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
      return { r: r * 255, g: g * 255, b: b * 255, a };
    }
    return null;
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  const lum = ({ r, g, b }) => {
    const ch = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg.a > 0) {
        layers.push(bg);
        if (bg.a >= 1) break;
      }
    }
    let base = { r: 255, g: 255, b: 255, a: 1 };
    if (layers.length && layers[layers.length - 1].a >= 1) base = layers.pop();
    else if (matchMedia('(prefers-color-scheme: dark)').matches) base = parse(getComputedStyle(document.documentElement).backgroundColor) ?? base;
    for (const layer of layers.reverse()) base = over(layer, base);
    return base;
  };
  const failures = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!own || el.closest('[hidden], template, [disabled], :disabled') || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    let fg = parse(style.color);
    if (!fg) continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
    const bg = background(el);
    fg = over({ ...fg, a: fg.a * opacity }, bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      failures.push({ text: el.textContent.trim().slice(0, 40), fg: style.color, bg, ratio: Math.round(ratio * 100) / 100 });
  }
  return failures;
}

/** No horizontal scrolling: nothing wider than the viewport. */
export const noHorizontalScroll = () =>
  document.documentElement.scrollWidth <= document.documentElement.clientWidth &&
  document.body.scrollWidth <= document.documentElement.clientWidth;
