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

class WebSocketBridge implements ServiceBridge {
  private ws!: WebSocket;
  private ready!: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(m: PushMessage) => void>();
  private readonly connectionListeners = new Set<(up: boolean) => void>();

  constructor(private readonly url: string) {
    this.open();
  }

  private open(): void {
    this.ws = new WebSocket(this.url);
    this.ready = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => {
        for (const l of this.connectionListeners) l(true);
        resolve();
      });
      this.ws.addEventListener('error', () => reject(new ServiceError({ code: 'unauthorized', message: 'cannot reach the vnetlab server', hint: 'is `vnetlab serve` still running? open the link it printed' })));
    });
    this.ready.catch(() => {});
    this.ws.addEventListener('message', (e) => {
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
    this.ws.addEventListener('close', () => {
      for (const p of this.pending.values()) p.reject(new ServiceError({ code: 'internal', message: 'connection to the vnetlab server closed' }));
      this.pending.clear();
      for (const l of this.connectionListeners) l(false);
    });
  }

  call<M extends ServiceMethod>(method: M, ...params: Parameters<VnetlabService[M]>): ReturnType<VnetlabService[M]> {
    return (async () => {
      await this.ready;
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

  onConnection(listener: (up: boolean) => void): void {
    this.connectionListeners.add(listener);
  }
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
