// Preload (sandboxed, bundled to CommonJS by ./build.mjs): exposes exactly the service bridge on
// `window.vnetlab` and nothing else of Electron or Node.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_CALL, IPC_PUSH, isServiceMethod, type PreloadBridge, type PushMessage, type ServiceMethod } from '../../shared/service-api.ts';

const bridge: PreloadBridge = {
  invoke(method: ServiceMethod, params: unknown[]) {
    if (!isServiceMethod(method) || !Array.isArray(params)) {
      return Promise.resolve({ error: { code: 'bad-input' as const, message: `unknown method ${String(method)}` } });
    }
    return ipcRenderer.invoke(IPC_CALL, method, params);
  },
  onPush(listener: (message: PushMessage) => void) {
    const handler = (_event: IpcRendererEvent, message: PushMessage) => listener(message);
    ipcRenderer.on(IPC_PUSH, handler);
    return () => void ipcRenderer.removeListener(IPC_PUSH, handler);
  },
};

contextBridge.exposeInMainWorld('vnetlab', bridge);
