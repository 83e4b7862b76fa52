// test-simulcast.mjs — workshop media at scale, in headless Chromium against
// a real tribud: simulcast layer switching on a `view` change, last-N
// following the active speaker, and a screen share received ahead of last-N.
//
// Each page runs a small WebRTC client of its own (installed below with
// page.evaluate on an empty page of the server's origin), not the web
// pages: these tests are about what the server forwards. Publishers send
// what Chromium sends (simulcast with sendEncodings rids h/m/l; audio from
// a WebAudio oscillator whose gain the test sets, so that one participant
// is louder than the others).
//
// Run inside a loopback-only network namespace (meson test does):
//   unshare -n sh -c 'ip link set lo up && exec node --test test-simulcast.mjs'
// Every wait is for a condition (getStats, track-map), each with a deadline.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closePage, launch, pages, skipReason, waitIn } from './lib/browser.mjs';
import { startTribud } from './lib/tribud.mjs';

const SKIP = skipReason('test-simulcast.mjs');
const VERBOSE = !!process.env.TRIBU_E2E_VERBOSE;

/* ---- the in-page client ---- */

/** Installed in the page as window.t: join, publish, subscribe (answering
 * every subscriber offer in order), candidates both ways, track-map. */
function installClient({ wsUrl, token }) {
  const t = {
    trackMap: [],
    events: [],
    pending: new Map(),
    nextId: 1,
    answered: 0,
  };
  window.t = t;
  const ws = new WebSocket(wsUrl);
  t.request = (type, fields = {}) =>
    new Promise((resolve, reject) => {
      const id = t.nextId++;
      t.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ type, id, ...fields }));
    });
  const cand = (c) =>
    c && c.candidate ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null;
  t.sub = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  t.sub.addEventListener('icecandidate', (ev) =>
    t.request('candidate', { pc: 'subscribe', candidate: cand(ev.candidate) }).catch(() => {}),
  );
  let offers = Promise.resolve();
  const onOffer = (d) =>
    (offers = offers.then(async () => {
      await t.sub.setRemoteDescription({ type: 'offer', sdp: d.sdp });
      const answer = await t.sub.createAnswer();
      await t.sub.setLocalDescription(answer);
      try {
        await t.request('subscriber-answer', { sdp: answer.sdp, version: d.version });
        t.answered = d.version;
      } catch (err) {
        console.log(`answer ${d.version} refused: ${JSON.stringify(err)}`);
      }
    }).catch((err) => console.log(`subscriber offer failed: ${err}`)));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.event) {
      t.events.push(msg);
      if (msg.event === 'subscriber-offer') onOffer(msg.data);
      else if (msg.event === 'track-map') t.trackMap = msg.data.tracks;
      else if (msg.event === 'candidate') {
        const pc = msg.data.pc === 'publish' ? t.pub : t.sub;
        pc?.addIceCandidate(msg.data.candidate ?? null).catch(() => {});
      }
      return;
    }
    const p = t.pending.get(msg.id);
    if (!p) return;
    t.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(Object.assign(new Error(`${msg.error.code}: ${msg.error.message}`), { code: msg.error.code }));
  };
  /* Publishes VIDEO ({simulcast, width, height}) and/or AUDIO (an
   * oscillator; t.gain.gain.value sets its loudness); SCREEN adds a second
   * video track declared as a screen share (the fake camera again: the
   * server knows a screen by what `publish` says of it). */
  t.publish = async ({ video, audio, screen }) => {
    const sources = [];
    t.pub = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    t.pub.addEventListener('icecandidate', (ev) =>
      t.request('candidate', { pc: 'publish', candidate: cand(ev.candidate) }).catch(() => {}),
    );
    if (audio) {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = 440;
      t.gain = ctx.createGain();
      t.gain.gain.value = 0;
      const dest = ctx.createMediaStreamDestination();
      osc.connect(t.gain).connect(dest);
      osc.start();
      await ctx.resume();
      sources.push([t.pub.addTransceiver(dest.stream.getAudioTracks()[0], { direction: 'sendonly' }), 'mic']);
    }
    if (video) {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { width: video.width, height: video.height, frameRate: 15 },
      });
      const init = { direction: 'sendonly' };
      if (video.simulcast)
        init.sendEncodings = [
          { rid: 'h', maxBitrate: 900000 },
          { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 300000 },
          { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 100000 },
        ];
      sources.push([t.pub.addTransceiver(stream.getVideoTracks()[0], init), 'camera']);
    }
    if (screen) {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      sources.push([t.pub.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' }), 'screen']);
    }
    const offer = await t.pub.createOffer();
    await t.pub.setLocalDescription(offer);
    const tracks = sources.map(([tr, source]) => ({ mid: tr.mid, source }));
    const { sdp } = await t.request('publish', { sdp: offer.sdp, tracks });
    await t.pub.setRemoteDescription({ type: 'answer', sdp });
  };
  /* Inbound video streams: [{mid, participant_id, framesDecoded, frameWidth, packetsReceived}]. */
  t.videoIn = async () => {
    const rows = [];
    const stats = await t.sub.getStats();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const entry = t.trackMap.find((e) => e.mid === s.mid);
      rows.push({
        mid: s.mid,
        participant_id: entry?.participant_id ?? null,
        framesDecoded: s.framesDecoded ?? 0,
        frameWidth: s.frameWidth ?? 0,
        packetsReceived: s.packetsReceived ?? 0,
      });
    });
    return rows;
  };
  t.videoPublishers = () =>
    t.trackMap.filter((e) => e.kind === 'video' && e.source !== 'screen').map((e) => e.participant_id).sort();
  return new Promise((resolve, reject) => {
    ws.onopen = () => t.request('join', { token }).then((d) => {
      t.me = d.you.participant_id;
      resolve(t.me);
    }, reject);
    ws.onerror = () => reject(new Error('websocket error'));
  });
}

async function openClient(browser, server, name, token) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const entry = { page, name, logs: [] };
  pages.push(entry);
  page.on('console', (m) => {
    entry.logs.push(`console.${m.type()}: ${m.text()}`);
    if (VERBOSE) process.stderr.write(`[${name}] ${m.text()}\n`);
  });
  page.on('pageerror', (err) => entry.logs.push(`pageerror: ${err.message}`));
  // A page of the server's origin (a secure context) without client code.
  await page.goto(`${server.url}/healthz`);
  const id = await page.evaluate(installClient, { wsUrl: server.wsUrl, token });
  return { page, id, name };
}

/** Runs FN; when it throws, adds the server's stats and the pages' inbound
 * video to the error. */
async function explain(clients, fn) {
  try {
    return await fn();
  } catch (err) {
    for (const c of clients) {
      const state = await c.page
        .evaluate(async () => ({ server: await window.t.request('stats'), video: await window.t.videoIn() }))
        .catch((e) => e.message);
      err.message += `\n${c.name}: ${JSON.stringify(state)}`;
    }
    throw err;
  }
}

/* ---- the suite ---- */

const ONLY_HERE = { skip: SKIP };

describe('simulcast and last-N in a workshop (Chromium)', () => {
  let server;
  let browser;

  before(async () => {
    if (SKIP) return;
    server = await startTribud({ config: { media: { addresses: '127.0.0.1' }, rooms: { last_n: 2 } } });
    browser = await launch();
  });

  after(async () => {
    for (const { page } of pages.splice(0)) await closePage(page).catch(() => {});
    await browser?.close();
    await server?.cleanup();
  });

  test('a subscriber switches simulcast layers when its view changes, decoding on', ONLY_HERE, async (t) => {
    const tok = (user, role = 'student') =>
      server.token({ user, role, room: 'sc-layers', kind: 'workshop' });
    const pub = await openClient(browser, server, 'publisher', tok('pub', 'mentor'));
    const sub = await openClient(browser, server, 'subscriber', tok('sub'));
    await pub.page.evaluate(() => window.t.publish({ video: { simulcast: true, width: 1280, height: 720 } }));

    // The server receives the three layers.
    await waitIn(pub.page, 'three simulcast layers reach the server', async () => {
      const s = await window.t.request('stats');
      const track = s.publish?.tracks?.find((x) => x.kind === 'video');
      return track && track.layers.length === 3 && track.layers.every((l) => l.packets > 0);
    }, null, { timeout: 30000 });

    // A workshop shows tiles by default: the low layer.
    const low = await explain([pub, sub], () => waitIn(sub.page, 'the low layer decoding', async () => {
      const [v] = await window.t.videoIn();
      return v && v.framesDecoded > 10 && v.frameWidth > 0 && v.frameWidth <= 400 ? v : false;
    }, null, { timeout: 40000 }));

    // Spotlight the publisher: the high layer (as soon as the browser
    // sends it: its bandwidth estimate ramps up first).
    await sub.page.evaluate((id) => window.t.request('view', { spotlight: id, mode: 'spotlight' }), pub.id);
    const high = await waitIn(sub.page, 'a higher layer decoding after the spotlight', async (w) => {
      const [v] = await window.t.videoIn();
      return v && v.frameWidth > w * 1.5 ? v : false;
    }, low.frameWidth, { timeout: 40000 });
    assert.ok(high.framesDecoded > low.framesDecoded, 'frames kept decoding across the switch');
    assert.equal(high.mid, low.mid, 'the same stream (no renegotiation)');

    // Back to the grid: down again, still decoding.
    await sub.page.evaluate(() => window.t.request('view', { mode: 'grid' }));
    const down = await waitIn(sub.page, 'the low layer again after the grid', async (w) => {
      const [v] = await window.t.videoIn();
      return v && v.frameWidth > 0 && v.frameWidth < w ? v : false;
    }, high.frameWidth, { timeout: 30000 });
    await waitIn(sub.page, 'frames still decoding', async (n) => {
      const [v] = await window.t.videoIn();
      return v.framesDecoded > n + 10;
    }, down.framesDecoded, { timeout: 20000 });

    const stats = await sub.page.evaluate(() => window.t.request('stats'));
    const track = stats.subscribe.tracks.find((x) => x.kind === 'video');
    t.diagnostic(`frame widths: grid ${low.frameWidth}, spotlight ${high.frameWidth}, grid ${down.frameWidth}; ` +
      `server: layer ${track.layer}, ${track.layer_switches} switches`);
    assert.ok(track.layer_switches >= 2, `the server switched layers (${JSON.stringify(track)})`);

    // A bad view is refused.
    const err = await sub.page.evaluate(() =>
      window.t.request('view', { mode: 'mosaic' }).then(() => null, (e) => e.code),
    );
    assert.equal(err, 'bad-field');
    const missing = await sub.page.evaluate(() =>
      window.t.request('view', { spotlight: 'ffffffffffffffff' }).then(() => null, (e) => e.code),
    );
    assert.equal(missing, 'not-found');
    for (const c of [pub, sub]) await closePage(c.page);
  });

  test('last-N: with N = 2 of 4 publishers, the videos follow the active speaker', ONLY_HERE, async () => {
    const tok = (user) => server.token({ user, room: 'sc-lastn', kind: 'workshop' });
    const watcher = await openClient(browser, server, 'watcher', tok('watcher'));
    const pubs = [];
    for (const user of ['p1', 'p2', 'p3', 'p4']) {
      const c = await openClient(browser, server, user, tok(user));
      await c.page.evaluate(() => window.t.publish({ audio: true, video: { width: 320, height: 240 } }));
      pubs.push(c);
    }
    const ids = pubs.map((c) => c.id);
    const expect = (want) => [...want].sort();

    // Nobody has spoken: the first two in join order.
    await waitIn(watcher.page, 'the first two publishers\' videos', (want) =>
      JSON.stringify(window.t.videoPublishers()) === JSON.stringify(want) &&
      window.t.trackMap.filter((e) => e.kind === 'audio').length === 4,
    expect(ids.slice(0, 2)), { timeout: 30000 });

    // p4 speaks: it comes in, p1 (the first who never spoke) stays.
    await pubs[3].page.evaluate(() => (window.t.gain.gain.value = 1));
    await waitIn(watcher.page, 'p4 among the videos once it speaks', (want) =>
      JSON.stringify(window.t.videoPublishers()) === JSON.stringify(want),
    expect([ids[3], ids[0]]), { timeout: 30000 });
    await waitIn(watcher.page, 'p4\'s video decoding', async (id) => {
      const rows = await window.t.videoIn();
      return rows.some((r) => r.participant_id === id && r.framesDecoded > 5);
    }, ids[3], { timeout: 30000 });

    // p3 speaks instead: p3 and p4, the two most recent speakers.
    await pubs[3].page.evaluate(() => (window.t.gain.gain.value = 0));
    await pubs[2].page.evaluate(() => (window.t.gain.gain.value = 1));
    await waitIn(watcher.page, 'p3 and p4, the two most recent speakers', (want) =>
      JSON.stringify(window.t.videoPublishers()) === JSON.stringify(want),
    expect([ids[2], ids[3]]), { timeout: 30000 });
    await waitIn(watcher.page, 'p3\'s video decoding', async (id) => {
      const rows = await window.t.videoIn();
      return rows.some((r) => r.participant_id === id && r.framesDecoded > 5);
    }, ids[2], { timeout: 30000 });

    // The subscribe PC did not grow past what it needed: paused sections
    // are reused (audio 4 + at most 3 video sections so far).
    const sections = await watcher.page.evaluate(() => window.t.sub.getTransceivers().length);
    assert.ok(sections <= 4 + 3, `${sections} sections`);
    for (const c of [watcher, ...pubs]) await closePage(c.page);
  });

  test('a screen share is always received, in the high layer, whatever last-N says', ONLY_HERE, async () => {
    const tok = (user) => server.token({ user, room: 'sc-screen', kind: 'workshop' });
    const watcher = await openClient(browser, server, 'watcher2', tok('watcher'));
    const others = [];
    for (const user of ['c1', 'c2']) {
      const c = await openClient(browser, server, user, tok(user));
      await c.page.evaluate(() => window.t.publish({ video: { width: 320, height: 240 } }));
      others.push(c);
    }
    // Joins last and never speaks: its camera is outside the last 2, its
    // screen is not.
    const presenter = await openClient(browser, server, 'presenter', tok('presenter'));
    await presenter.page.evaluate(() =>
      window.t.publish({ video: { width: 320, height: 240 }, screen: true }),
    );
    await waitIn(watcher.page, 'the screen share mapped, the presenter\'s camera not', (id) => {
      const map = window.t.trackMap;
      return map.some((e) => e.participant_id === id && e.source === 'screen') &&
        !map.some((e) => e.participant_id === id && e.source === 'camera') &&
        window.t.videoPublishers().length === 2;
    }, presenter.id, { timeout: 30000 });
    await waitIn(watcher.page, 'the screen share decoding', async (id) => {
      const rows = await window.t.videoIn();
      const screen = window.t.trackMap.find((e) => e.participant_id === id && e.source === 'screen');
      return rows.some((r) => r.mid === screen?.mid && r.framesDecoded > 5);
    }, presenter.id, { timeout: 30000 });
    const stats = await watcher.page.evaluate(() => window.t.request('stats'));
    const screenRow = stats.subscribe.tracks.find((x) => x.participant_id === presenter.id);
    assert.equal(screenRow.quality, 'high', JSON.stringify(screenRow));
    const cameraRows = stats.subscribe.tracks.filter((x) => x.kind === 'video' && x.participant_id !== presenter.id);
    assert.ok(cameraRows.every((x) => x.quality === 'low'), JSON.stringify(cameraRows));
    for (const c of [watcher, presenter, ...others]) await closePage(c.page);
  });
});
