// room.js — being in a room, and staying in it: the signaling connection,
// the join, the two PeerConnections, and the automatic rejoin when any of
// them drops.
//
// A RoomConnection joins with a token and keeps the local stream it
// publishes. When the WebSocket closes, when the server takes us out
// because our media failed or it is stopping ("removed" media-failed |
// shutdown), or when a PeerConnection fails, it drops both connections and
// joins again with the same token after a growing delay (the server
// replaces a participant of the same user that it still holds), then
// publishes the same stream again. After RECONNECT_DELAYS_MS have all been
// tried, or on an answer that retrying cannot change (token expired, room
// full, ...), it gives up and says why.
//
// Event handlers registered with on() survive the rejoins. Not here: the
// page (call.js, workshop.js) and what it shows.

import { Signaling, SignalingError } from './signaling.js';
import { MediaSession } from './peer.js';

/** The waits before each rejoin attempt: about 15 s in all. */
export const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

/** Failures that another attempt may cure. */
const RETRYABLE = new Set(['connection-failed', 'connection-lost', 'timeout', 'internal', 'rate-limited']);

export class RoomConnection {
  /**
   * ARGS: {token, name?, room?}. HOOKS (all optional):
   *  - onJoined(data, {rejoin}): the join response's data, first or again;
   *  - onReconnecting({attempt, delay, reason}): a rejoin attempt is due;
   *  - onLost(err): gave up (err.code: connection-lost or the join error);
   *  - onRemoved(reason): the server took us out for good (replaced,
   *    removed by a facilitator, ...);
   *  - onRemoteMedia(list), onMediaState(pc, state): see peer.js;
   *  - onPublishError(err): publishing after a rejoin failed.
   */
  constructor(args, hooks = {}) {
    this.args = args;
    this.hooks = hooks;
    this.handlers = new Map(); // event -> Set of handlers, for every connection
    this.sig = null;
    this.media = null;
    this.stream = null;
    this.closed = false;
    this.reconnecting = false;
    this.reconnects = 0; // successful rejoins
    this.wake = null; // ends the current backoff wait early (close)
  }

  /** Calls HANDLER(data) for server event NAME on this and every later
   * connection. */
  on(name, handler) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(handler);
  }

  /** Connects and joins; resolves with the join data or rejects with a
   * SignalingError (connection-failed, unauthorized, room-full, ...). */
  async join() {
    return this._open();
  }

  /** Sends a request on the current connection (see Signaling.request). */
  request(type, fields = {}, options = {}) {
    if (!this.sig) return Promise.reject(new SignalingError('connection-lost', 'not connected'));
    return this.sig.request(type, fields, options);
  }

  /** Publishes STREAM now and again after every rejoin (only then, when a
   * rejoin is under way). */
  async publish(stream) {
    this.stream = stream;
    if (this.reconnecting) return undefined;
    if (!this.media) throw new SignalingError('connection-lost', 'not connected');
    return this.media.publish(stream);
  }

  setEnabled(kind, enabled) {
    this.media?.setEnabled(kind, enabled);
  }

  remoteStats() {
    return this.media ? this.media.remoteStats() : Promise.resolve([]);
  }

  quality() {
    return this.media ? this.media.quality() : Promise.resolve({ level: 'unknown' });
  }

  /** Leaves the room and closes everything. */
  async leave() {
    const s = this.sig;
    if (s && !this.reconnecting) {
      try {
        await s.request('leave', {}, { timeout: 3000 });
      } catch {
        /* closing anyway */
      }
    }
    this.close();
  }

  /** Closes both connections and stops any rejoin; the local stream is the
   * page's to stop. Idempotent. */
  close() {
    this.closed = true;
    this.wake?.();
    this._drop();
  }

  /* ---- inside ---- */

  async _open() {
    const s = new Signaling();
    try {
      await s.connect();
    } catch (err) {
      s.close();
      throw err;
    }
    if (this.closed) {
      s.close();
      throw new SignalingError('connection-lost', 'closed');
    }
    for (const [name, set] of this.handlers)
      for (const handler of set) s.on(name, handler);
    s.on('removed', ({ reason }) => this._onRemoved(reason));
    s.on('close', () => this._reconnect('connection-lost'));
    const media = new MediaSession(s, {
      onRemoteMedia: (list) => this.hooks.onRemoteMedia?.(list),
      onState: (pc, st) => {
        this.hooks.onMediaState?.(pc, st);
        if (st === 'failed' && this.media === media) this._reconnect('media-failed');
      },
      onError: (where, err) => console.error(`tribu: ${where} negotiation failed`, err),
    });
    this.sig = s;
    this.media = media;
    const fields = { token: this.args.token };
    if (this.args.name) fields.name = this.args.name;
    if (this.args.room) fields.room = this.args.room;
    try {
      return await s.request('join', fields);
    } catch (err) {
      if (this.sig === s) this._drop();
      throw err;
    }
  }

  _onRemoved(reason) {
    if (reason === 'media-failed' || reason === 'shutdown') {
      this._reconnect(reason);
      return;
    }
    this.close();
    this.hooks.onRemoved?.(reason);
  }

  _drop() {
    this.media?.close();
    this.media = null;
    const s = this.sig;
    this.sig = null;
    s?.close();
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async _reconnect(reason) {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    console.warn(`tribu: connection lost (${reason}): joining again`);
    this._drop();
    let last = new SignalingError('connection-lost', reason);
    for (let i = 0; i < RECONNECT_DELAYS_MS.length; i++) {
      const delay = RECONNECT_DELAYS_MS[i];
      this.hooks.onReconnecting?.({ attempt: i + 1, delay, reason });
      await this._sleep(delay);
      if (this.closed) return;
      try {
        const data = await this._open();
        this.reconnecting = false;
        this.reconnects++;
        this.hooks.onJoined?.(data, { rejoin: true });
        if (this.stream && this.media)
          this.media.publish(this.stream).catch((err) => this.hooks.onPublishError?.(err));
        return;
      } catch (err) {
        if (this.closed) return;
        last = err;
        if (!RETRYABLE.has(err.code)) break;
      }
    }
    this.reconnecting = false;
    this.close();
    this.hooks.onLost?.(RETRYABLE.has(last.code) ? new SignalingError('connection-lost', reason) : last);
  }
}
