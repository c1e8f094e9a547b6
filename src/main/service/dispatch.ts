// One call from a client, as the WebSocket server and the Electron IPC both receive it: a method name
// and parameters from the wire, checked against the table of service methods, then run on the
// client's session. Errors come back as data a student can act on (never a stack).
import { isServiceMethod, type ServiceErrorInfo, type VnetlabService } from '../../shared/service-api.ts';
import { toErrorInfo } from './errors.ts';

export type DispatchReply = { result: unknown } | { error: ServiceErrorInfo };

export async function dispatch(session: () => VnetlabService, method: unknown, params: unknown): Promise<DispatchReply> {
  if (!isServiceMethod(method) || !Array.isArray(params)) return { error: { code: 'bad-input', message: `unknown method ${String(method)}` } };
  try {
    const target = session();
    const fn = target[method] as (...args: unknown[]) => Promise<unknown>;
    return { result: (await fn.apply(target, params)) ?? null };
  } catch (err) {
    return { error: toErrorInfo(err) };
  }
}
