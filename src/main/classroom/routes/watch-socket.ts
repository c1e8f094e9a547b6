// An instructor watching a student's console (/watch): a read-only session on the student's worker;
// the console's output goes to the page, and nothing the page sends is passed on.
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { UserError } from '../../errors.ts';
import type { Account, LoginSession } from '../accounts.ts';
import type { FrontDoor } from '../front-door.ts';
import { RECONNECT_REASON } from '../worker-client.ts';

export async function bindWatcher(door: FrontDoor, ws: WebSocket, student: Account, labId: string, machine: string, login: LoginSession): Promise<void> {
  const { labPaths, workerOf, prepared, trackSocket } = door;

  trackSocket(login, ws);
  const worker = workerOf(student);
  const sessionId = randomBytes(12).toString('hex');
  let consoleId = '';
  // What the worker pushes before the attach's answer has told us our console's id: output that came
  // after the replay was taken, dropped before (a watcher missed the login prompt once).
  type Push = Parameters<Parameters<typeof worker.openSession>[3]>[0];
  let early: Push[] | undefined = [];
  const out = (data: string) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ data }));
  };
  const onPush = (push: Push) => {
    if (early) return void early.push(push);
    if (push.kind === 'console-data' && push.consoleId === consoleId) {
      out(push.data);
      void worker.request({ op: 'call', session: sessionId, method: 'consoleAck', params: [consoleId, push.data.length] }).catch(() => {});
    } else if (push.kind === 'console-exit' && push.consoleId === consoleId) out(`\r\n[${push.reason}]\r\n`);
  };
  try {
    const labs = labPaths.get(student.id) ?? (await prepared(student));
    const lab = labs.find((l) => l.id === labId);
    if (!lab) throw new UserError('no such lab');
    await worker.openSession(sessionId, student.id, true, onPush, () => {
      out(`\r\n[${RECONNECT_REASON}]\r\n`);
      ws.close(1012, RECONNECT_REASON);
    });
    const att = await worker.request<{ consoleId: string; replay: string }>({ op: 'call', session: sessionId, method: 'attachConsole', params: [lab.path, machine] });
    consoleId = att.consoleId;
    out(att.replay);
    const pending = early ?? [];
    early = undefined;
    for (const push of pending) onPush(push);
  } catch (err) {
    early = undefined;
    out(`[cannot watch: ${(err as Error).message}]`);
    ws.close();
  }
  // The watcher's socket is read-only: anything it sends is ignored.
  ws.on('close', () => void worker.closeSession(sessionId));
}
