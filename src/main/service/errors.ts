// Turns anything a service call threw into a message for the UI: UserErrors as they are, anything
// else as an internal error with its message only (never a stack trace in front of a student).
import type { ServiceErrorInfo } from '../../shared/service-api.ts';
import { EnvironmentError, UserError } from '../errors.ts';

export function toErrorInfo(err: unknown): ServiceErrorInfo {
  if (err instanceof EnvironmentError) return { code: 'environment', message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  if (err instanceof UserError) return { code: 'bad-input', message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  if (process.env.VNETLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return { code: 'internal', message: `internal error: ${message}`, hint: 'run `vnetlab serve` with VNETLAB_DEBUG=1 for details, and please report it' };
}
