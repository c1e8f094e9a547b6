// The renderer's only way out: the service API, through Electron's preload bridge when present,
// otherwise over the WebSocket of `vnetlab serve` (the token cookie was set by the first page load).
import { SERVICE_METHODS, type PreloadBridge, type PushMessage, type ServerFrame, type ServiceBridge, type ServiceErrorInfo, type ServiceMethod, type VnetlabService } from '../shared/service-api.ts';

/** An error from the service, carrying the hint to show the user. */
export class ServiceError extends Error {
  constructor(readonly info: ServiceErrorInfo) {
    super(info.message);
  }
}

declare global {
  interface Window {
    /** Set by the Electron preload (contextBridge). */
    vnetlab?: PreloadBridge;
  }
}

/** Delays between reconnection attempts: quick at first (a restarting server), then every few seconds. */
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 3000, 5000];

/**
 * The WebSocket to `vnetlab serve`. When it drops (the server stopped or restarted), calls fail at
 * once with a message that says so, and the bridge keeps reconnecting; listeners hear about both, so
 * the page can show a banner and, once back, subscribe again and re-attach its consoles.
 */
class WebSocketBridge implements ServiceBridge {
  private ws!: WebSocket;
  private up = false;
  private everUp = false;
  private attempts = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(m: PushMessage) => void>();
  private readonly connectionListeners = new Set<(up: boolean, why?: 'refused', reason?: string) => void>();
  /** The last time a server answered at this address but refused this page's token (said once). */
  private refused = false;
  /** Calls made before the first connection wait for it (the page's boot). */
  private firstOpen: Promise<void>;
  private opened!: () => void;

  constructor(private readonly url: string) {
    this.firstOpen = new Promise((resolve) => (this.opened = resolve));
    this.open();
  }

  private open(): void {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.up = true;
      this.everUp = true;
      this.attempts = 0;
      this.refused = false;
      this.opened();
      for (const l of this.connectionListeners) l(true);
    });
    ws.addEventListener('message', (e) => {
      const frame = JSON.parse(String(e.data)) as ServerFrame;
      if ('push' in frame) {
        for (const l of this.listeners) l(frame.push);
        return;
      }
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      if ('error' in frame) p.reject(new ServiceError(frame.error));
      else p.resolve(frame.result);
    });
    ws.addEventListener('close', (event) => {
      const wasUp = this.up;
      this.up = false;
      for (const p of this.pending.values()) p.reject(disconnected());
      this.pending.clear();
      // 1012 (service restart): the classroom says why, e.g. that the student's lab server went away.
      if (wasUp) for (const l of this.connectionListeners) l(false, undefined, event.code === 1012 && event.reason ? event.reason : undefined);
      else if (this.everUp) void this.probe();
      const delay = RECONNECT_DELAYS_MS[Math.min(this.attempts++, RECONNECT_DELAYS_MS.length - 1)]!;
      window.setTimeout(() => this.open(), delay);
    });
  }

  /**
   * A reconnection failed: is the server down, or up but refusing this page's token (a WebSocket
   * upgrade refused with 401 looks like any failure to the page; a plain GET says which)?
   */
  private async probe(): Promise<void> {
    let status = 0;
    try {
      status = (await fetch('/', { cache: 'no-store', credentials: 'same-origin' })).status;
    } catch {
      return; // nobody listens: still reconnecting
    }
    if (status !== 401 || this.refused || this.up) return;
    this.refused = true;
    for (const l of this.connectionListeners) l(false, 'refused');
  }

  call<M extends ServiceMethod>(method: M, ...params: Parameters<VnetlabService[M]>): ReturnType<VnetlabService[M]> {
    return (async () => {
      if (!this.everUp) await Promise.race([this.firstOpen, new Promise((r) => window.setTimeout(r, 5000))]);
      if (!this.up || this.ws.readyState !== WebSocket.OPEN) throw disconnected();
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.ws.send(JSON.stringify({ id, method, params }));
      });
    })() as ReturnType<VnetlabService[M]>;
  }

  onPush(listener: (message: PushMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onConnection(listener: (up: boolean, why?: 'refused', reason?: string) => void): void {
    this.connectionListeners.add(listener);
  }
}

const NOT_CONNECTED = 'not connected to the vnetlab server';

/** The error of a call made, or cut off, while the WebSocket to the server was down. */
export function isDisconnectedError(err: unknown): boolean {
  return err instanceof ServiceError && err.info.message === NOT_CONNECTED;
}

function disconnected(): ServiceError {
  return new ServiceError({ code: 'unauthorized', message: NOT_CONNECTED, hint: 'it reconnects by itself when the server is back; if you stopped `vnetlab serve`, start it again and open the link it prints' });
}

/** Electron: the preload's invoke() returns errors as data; turn them back into ServiceErrors. */
function electronBridge(preload: PreloadBridge): ServiceBridge {
  return {
    call: ((method: ServiceMethod, ...params: unknown[]) =>
      preload.invoke(method, params).then((reply) => {
        if ('error' in reply) throw new ServiceError(reply.error);
        return reply.result;
      })) as ServiceBridge['call'],
    onPush: (listener) => preload.onPush(listener),
  };
}

export function connectBridge(): ServiceBridge {
  if (window.vnetlab) return electronBridge(window.vnetlab);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocketBridge(`${proto}//${location.host}/rpc`);
}

/** `api.openLab(path)` instead of `bridge.call('openLab', path)`: one function per method of the table, nothing else. */
export function serviceProxy(bridge: ServiceBridge): VnetlabService {
  const call = (bridge.call as (method: ServiceMethod, ...params: unknown[]) => Promise<unknown>).bind(bridge); // the WebSocket bridge's call uses `this`
  return Object.fromEntries(SERVICE_METHODS.map((method) => [method, (...params: unknown[]) => call(method, ...params)])) as unknown as VnetlabService;
}
