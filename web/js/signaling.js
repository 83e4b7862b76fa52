// signaling.js — a small client of Tribu's signaling protocol (PROTOCOL.md).
//
// One WebSocket to /ws on the page's own origin (wss: when the page is
// https:). request(type, fields) sends {type, id, ...fields} and resolves
// with the response's data, or rejects with a SignalingError carrying the
// server's error code. Events ({event, data}) go to the handlers registered
// with on(name, handler).
//
// Not here: reconnection. A lost connection rejects every pending request
// with code 'connection-lost' and fires the 'close' handlers once; room.js
// then opens a new Signaling and joins again.

/** An error response from the server, or a local failure (connection-lost,
 * timeout). `code` is the protocol's error code. */
export class SignalingError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SignalingError';
    this.code = code;
  }
}

/** ws(s)://HOST/ws for the page's origin. */
export function defaultUrl(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

export class Signaling {
  /** URL defaults to /ws on the page's origin. */
  constructor(url = defaultUrl()) {
    this.url = url;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer, type}
    this.handlers = new Map(); // event name -> Set of handlers
    this.closed = false;
  }

  /** Opens the WebSocket; resolves once it is open, rejects with
   * SignalingError('connection-failed') if it never opens. */
  connect({ timeout = 10000 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      let opened = false;
      const timer = setTimeout(() => {
        if (!opened) {
          ws.close();
          reject(new SignalingError('connection-failed', 'timed out opening the WebSocket'));
        }
      }, timeout);
      this.ws = ws;
      ws.addEventListener('open', () => {
        opened = true;
        clearTimeout(timer);
        resolve();
      });
      ws.addEventListener('message', (ev) => this._onMessage(ev.data));
      ws.addEventListener('close', (ev) => {
        clearTimeout(timer);
        if (!opened) {
          reject(new SignalingError('connection-failed', `WebSocket closed (${ev.code})`));
          return;
        }
        this._onClose(ev.code, ev.reason);
      });
    });
  }

  /** Sends a request; resolves with its response's `data` ({} when absent),
   * rejects with SignalingError(code). */
  request(type, fields = {}, { timeout = 15000 } = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new SignalingError('connection-lost', 'not connected'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError('timeout', `no response to ${type} within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer, type });
      this.ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  /** Calls HANDLER(data) for every event NAME; 'close' is the local event
   * fired once when the connection is lost ({code, reason}). Returns a
   * function that removes the handler. */
  on(name, handler) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(handler);
    return () => this.handlers.get(name)?.delete(handler);
  }

  /** Closes the connection on purpose: no 'close' handlers fire. */
  close() {
    this.closed = true;
    this._failPending('connection-lost', 'closed');
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }

  _emit(name, data) {
    for (const handler of [...(this.handlers.get(name) ?? [])]) {
      try {
        handler(data);
      } catch (err) {
        console.error(`tribu: handler for '${name}' failed`, err);
      }
    }
  }

  _onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      console.warn('tribu: a frame that is not JSON', text);
      return;
    }
    if (msg && typeof msg.event === 'string') {
      this._emit(msg.event, msg.data ?? {});
      return;
    }
    const p = msg ? this.pending.get(msg.id) : undefined;
    if (!p) {
      if (msg && msg.ok === false) console.warn('tribu: server error', msg.error);
      return;
    }
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.data ?? {});
    else p.reject(new SignalingError(msg.error?.code ?? 'internal', msg.error?.message));
  }

  _failPending(code, message) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SignalingError(code, message));
    }
    this.pending.clear();
  }

  _onClose(code, reason) {
    this._failPending('connection-lost', `connection closed (${code})`);
    if (this.closed) return;
    this.closed = true;
    this._emit('close', { code, reason });
  }
}
